package leaseview

import "testing"

func TestKey(t *testing.T) {
	// Invariant 1: the lock name is a pure function of the mailbox ID. Other
	// processes (and running deployments) depend on this exact string.
	for id, want := range map[int64]string{
		1:  "helpdesk:fetchlock:{mbox:1}",
		42: "helpdesk:fetchlock:{mbox:42}",
	} {
		if got := Key(id); got != want {
			t.Errorf("Key(%d) = %q, want %q", id, got, want)
		}
	}
}
