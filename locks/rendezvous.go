package locks

import (
	"encoding/binary"
	"hash/fnv"
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
