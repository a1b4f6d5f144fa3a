package locks

import (
	"encoding/binary"
	"hash/fnv"
	"slices"
	"strings"
)

// Rank is where instance stands among members for mailboxID by rendezvous
// (highest random weight) hashing: 0 is the preferred instance, 1 the next,
// and so on; -1 when instance is not a member. Every instance that sees the
// same members computes the same ranking, and when a member joins or
// leaves, only the mailboxes it gains or loses change hands.
func Rank(mailboxID int64, members []string, instance string) int {
	own := -1
	var w uint64
	for i, m := range members {
		if m == instance {
			own, w = i, weight(mailboxID, m)
		}
	}
	if own < 0 {
		return -1
	}
	rank := 0
	for i, m := range members {
		if i == own {
			continue
		}
		// Ties (astronomically rare) go to the smaller name, so that
		// every instance breaks them alike.
		if mw := weight(mailboxID, m); mw > w || (mw == w && m < instance) {
			rank++
		}
	}
	return rank
}

// Preferred is the member of rank 0 for mailboxID, or "" without members.
func Preferred(mailboxID int64, members []string) string {
	best, bw := "", uint64(0)
	for _, m := range members {
		if w := weight(mailboxID, m); best == "" || w > bw || (w == bw && m < best) {
			best, bw = m, w
		}
	}
	return best
}

func weight(mailboxID int64, instance string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(mailboxID))
	h.Write(b[:])
	h.Write([]byte(instance))
	// fnv alone mixes the last bytes poorly; finish with a 64-bit mixer
	// (splitmix64's) so shares come out even.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// shareSlackPercent is how far above an even split one member's share may go.
const shareSlackPercent = 10

// Shares assigns every mailbox to one member: the highest-ranked member
// whose share is not yet full, a share holding at most 10 % more than an
// even split. Plain rendezvous hashing alone leaves shares uneven (over 90
// mailboxes and three members, one in twenty splits gives a member fewer
// than 20); the bound keeps them fair while a join or a leave still moves
// few mailboxes. Mailboxes are taken in ID order, so every instance that
// sees the same mailboxes and members computes the same shares.
func Shares(ids []int64, members []string) map[int64]string {
	out := make(map[int64]string, len(ids))
	if len(members) == 0 {
		return out
	}
	// ceil(len(ids) × 110 % / len(members)), in integers.
	limit := (len(ids)*(100+shareSlackPercent) + 100*len(members) - 1) / (100 * len(members))
	count := make(map[string]int, len(members))
	order := slices.Clone(ids)
	slices.Sort(order)
	ranked := slices.Clone(members)
	for _, id := range order {
		slices.SortFunc(ranked, func(a, b string) int { return byWeight(id, a, b) })
		for _, m := range ranked {
			if count[m] < limit {
				out[id] = m
				count[m]++
				break
			}
		}
	}
	return out
}

// byWeight orders members by their weight for mailboxID, highest first;
// ties (astronomically rare) go to the smaller name, as in Rank.
func byWeight(mailboxID int64, a, b string) int {
	wa, wb := weight(mailboxID, a), weight(mailboxID, b)
	switch {
	case wa > wb:
		return -1
	case wa < wb:
		return 1
	}
	return strings.Compare(a, b)
}
