package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// TestConcurrentIngestSharedCustomers: several fetchers, each on its own
// mailbox, store group commits at once whose messages come from the same
// customers (people who write to several support addresses), each group
// in another order. On PostgreSQL a transaction holds the customer rows it
// upserted until it commits, so two that took them in different orders
// deadlocked (SQLSTATE 40P01); every group must now commit.
func TestConcurrentIngestSharedCustomers(t *testing.T) {
	t.Parallel()
	url := teststore.URL(t, "postgres")
	s := teststore.OpenURL(t, url, store.Options{})
	ctx := context.Background()
	const fetchers, groups, customers = 6, 12, 16
	var wg sync.WaitGroup
	for f := range fetchers {
		mb, err := s.CreateMailbox(ctx, helpdesk.MailboxInput{
			Name: fmt.Sprintf("Support %d", f), Email: fmt.Sprintf("support%d@example.com", f),
			IMAPHost: "127.0.0.1", IMAPPort: 143, IMAPSecurity: "none", IMAPUser: "u", IMAPPassword: "p",
		})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			uid := uint32(0)
			for g := range groups {
				var srcs []helpdesk.MessageSource
				var msgs []*helpdesk.IncomingMessage
				for _, c := range rand.Perm(customers) {
					uid++
					srcs = append(srcs, src(mb, uid))
					msgs = append(msgs, customerMsg(fmt.Sprintf("m%d-%d-%d@x", f, g, c),
						fmt.Sprintf("Customer%02d@customer.test", c), fmt.Sprintf("Question %d", g)))
				}
				_, err := teststore.IngestGroup(ctx, s, srcs, msgs)
				var pgErr *pgconn.PgError
				if errors.As(err, &pgErr) && pgErr.Code == "40P01" {
					t.Errorf("fetcher %d, group %d: deadlock: %v", f, g, err)
					return
				}
				if err != nil {
					t.Errorf("fetcher %d, group %d: %v", f, g, err)
					return
				}
			}
		})
	}
	wg.Wait()
	var n int
	if err := teststore.RawDB(t, url).Get(&n, `SELECT COUNT(*) FROM customers`); err != nil {
		t.Fatal(err)
	}
	if n != customers {
		t.Fatalf("%d customers, want %d", n, customers)
	}
}
