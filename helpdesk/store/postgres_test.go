package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// Every connection ends transactions left idle for a minute, unless the
// database URL sets its own limit.
func TestPostgresEndsIdleTransactions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for want, rawURL := range map[string]string{
		"1min": testserver.PostgresURL(t),
		"5s":   teststore.WithParam(t, testserver.PostgresURL(t), "idle_in_transaction_session_timeout", "5s"),
	} {
		s := teststore.OpenURL(t, rawURL, store.Options{})
		got, err := s.SettingForTest(ctx, "idle_in_transaction_session_timeout")
		if err != nil || got != want {
			t.Fatalf("idle_in_transaction_session_timeout = %q (%v), want %q", got, err, want)
		}
	}
}

// A fetcher stopped mid-commit (SIGSTOP, a frozen VM) leaves its
// transaction open on the mailbox's fence row. The next holder's claim goes
// through once PostgreSQL ends that transaction; the stopped batch can no
// longer commit, and its message is stored once by the next holder.
func TestStoppedFetchTransactionDoesNotBlockTheNextHolder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := teststore.OpenURL(t, teststore.WithParam(t, testserver.PostgresURL(t), "idle_in_transaction_session_timeout", "1s"), store.Options{})
	mb, err := s.CreateMailbox(ctx, helpdesk.MailboxInput{
		Name: "Support", Email: "support@example.com",
		IMAPHost: "127.0.0.1", IMAPPort: 143, IMAPSecurity: "none", IMAPUser: "u", IMAPPassword: "p",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ClaimFence(ctx, mb, 1); err != nil {
		t.Fatal(err)
	}
	stale := src(mb, 1)
	stale.Fence = 1
	batch, err := s.FetchHandle(mb, 1).BeginIngest(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer batch.Rollback()
	if _, err := batch.Ingest(ctx, stale, customerMsg("stopped@x", "c@customer.test", "Help")); err != nil {
		t.Fatal(err)
	}

	// The holder stops here. Without the limit this claim waits for it.
	claimCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.ClaimFence(claimCtx, mb, 2); err != nil {
		t.Fatalf("next holder's claim: %v", err)
	}
	t.Logf("the claim waited %s for the stopped transaction", time.Since(start).Round(time.Millisecond))
	if err := batch.Commit(ctx); err == nil {
		t.Fatal("the stopped holder's batch committed after its transaction was ended")
	}

	next := stale
	next.Fence = 2
	res, err := teststore.Ingest(ctx, s, next, customerMsg("stopped@x", "c@customer.test", "Help"))
	if err != nil || res.Outcome != helpdesk.OutcomeNew {
		t.Fatalf("the next holder's ingest: %+v, %v; want new", res, err)
	}
	teststore.RequireExactlyOnce(t, s, mb, []string{"stopped@x"})
}
