package locks

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// Instance IDs as Options.withDefaults makes them (fixed, so the shares
// below are the same on every run).
var rankMembers = []string{"3f9a1c07b2e4", "a41d6e90c3b8", "c07e5b2d9f61", "5e82f4a1b0d3"}

// owners maps each mailbox to its preferred member, checking that Rank
// agrees with Preferred: the preferred member has rank 0, every other a
// distinct rank.
func owners(t *testing.T, mailboxes int, members []string) map[int64]string {
	t.Helper()
	out := make(map[int64]string, mailboxes)
	for id := int64(1); id <= int64(mailboxes); id++ {
		pref := Preferred(id, members)
		ranks := map[int]bool{}
		for _, m := range members {
			r := Rank(id, members, m)
			if (r == 0) != (m == pref) || r < 0 || r >= len(members) || ranks[r] {
				t.Fatalf("mailbox %d: %s has rank %d (preferred %s, ranks so far %v)", id, m, r, pref, ranks)
			}
			ranks[r] = true
		}
		out[id] = pref
	}
	return out
}

func TestRankShares(t *testing.T) {
	t.Parallel()
	three := rankMembers[:3]
	before := owners(t, 90, three)
	count := map[string]int{}
	for _, m := range before {
		count[m]++
	}
	for _, m := range three {
		if count[m] < 20 || count[m] > 40 {
			t.Errorf("%s owns %d of 90 mailboxes, want 20-40 (all: %v)", m, count[m], count)
		}
	}

	// A fourth member takes mailboxes only for itself: none moves between
	// the old members.
	after := owners(t, 90, rankMembers)
	moved := 0
	for id, was := range before {
		if now := after[id]; now != was {
			if now != rankMembers[3] {
				t.Errorf("mailbox %d moved from %s to %s, not to the new member", id, was, now)
			}
			moved++
		}
	}
	if moved < 10 || moved > 35 {
		t.Errorf("%d of 90 mailboxes moved to the fourth member, want about a quarter", moved)
	}

	if r := Rank(1, three, "stranger"); r != -1 {
		t.Errorf("Rank of a non-member = %d, want -1", r)
	}
	if p := Preferred(1, nil); p != "" {
		t.Errorf("Preferred without members = %q", p)
	}
}

func TestRankSharesEvenAtScale(t *testing.T) {
	t.Parallel()
	// 1,000 mailboxes over 3 and then 10 members: every share within 25 %
	// of the mean (the fetch benchmark's setup).
	for _, n := range []int{3, 10} {
		members := make([]string, n)
		for i := range members {
			members[i] = fmt.Sprintf("%012x", uint64(i+1)*0x9e3779b97f4a7c15>>16)
		}
		count := map[string]int{}
		for _, m := range owners(t, 1000, members) {
			count[m]++
		}
		mean := 1000 / n
		for _, m := range members {
			if c := count[m]; c < mean*3/4 || c > mean*5/4 {
				t.Errorf("%d members: %s owns %d of 1000, mean %d", n, m, c, mean)
			}
		}
	}
}

// TestSharesBounded: whatever the instance IDs, shares stay within 10 %
// above an even split (so 90 mailboxes on three members give each 24-33,
// on four 15-25), every instance computes the same shares whatever order
// it lists mailboxes and members in, and a member joining moves about its
// share, not a reshuffle.
func TestSharesBounded(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]int64, 90)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	for trial := range 300 {
		members := make([]string, 4)
		for i := range members {
			members[i] = NewInstanceID()
		}
		three := members[:3]
		before := Shares(ids, three)
		requireShares(t, trial, before, three, 24, 33)
		shuffled := slices.Clone(ids)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if again := Shares(shuffled, []string{three[2], three[0], three[1]}); !maps.Equal(again, before) {
			t.Fatalf("trial %d: shares depend on the order of mailboxes or members", trial)
		}
		after := Shares(ids, members)
		requireShares(t, trial, after, members, 15, 25)
		moved := 0
		for id, was := range before {
			if after[id] != was {
				moved++
			}
		}
		if moved > 40 {
			t.Errorf("trial %d: a fourth member moved %d of 90 mailboxes, want about a quarter", trial, moved)
		}
	}
	if len(Shares(ids, nil)) != 0 {
		t.Error("shares without members")
	}
}

func requireShares(t *testing.T, trial int, shares map[int64]string, members []string, lo, hi int) {
	t.Helper()
	count := map[string]int{}
	for _, m := range shares {
		count[m]++
	}
	if len(shares) != 90 {
		t.Fatalf("trial %d: %d of 90 mailboxes assigned", trial, len(shares))
	}
	for _, m := range members {
		if count[m] < lo || count[m] > hi {
			t.Errorf("trial %d: %s owns %d of 90 over %d members, want %d-%d", trial, m, count[m], len(members), lo, hi)
		}
	}
}
