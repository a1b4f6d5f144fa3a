package teststore

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
)

// Mail is a realistic small customer mail of about size bytes (at least one
// body line). Its Message-ID is <prefix-NNNNNN@customer.test> with i as the
// number, returned without the angle brackets; its subject is "Question i".
func Mail(prefix string, i, size int) ([]byte, string) {
	id := fmt.Sprintf("%s-%06d@customer.test", prefix, i)
	body := strings.Repeat(fmt.Sprintf("Line %d of a customer question about order %d.\r\n", i, i), max(1, size/50))
	raw := fmt.Sprintf("From: Customer %d <customer%d@customer.test>\r\nTo: support@example.test\r\n"+
		"Subject: Question %d\r\nDate: Mon, 23 Nov 2026 10:%02d:%02d +0000\r\nMessage-ID: <%s>\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s",
		i, i%97, i, (i/60)%60, i%60, id, body)
	return []byte(raw), id
}

// Mails is n mails built by Mail, numbered from, from+1, ...
func Mails(prefix string, from, n, size int) ([][]byte, []string) {
	raws := make([][]byte, n)
	ids := make([]string, n)
	for i := range n {
		raws[i], ids[i] = Mail(prefix, from+i, size)
	}
	return raws, ids
}

// RequireExactlyOnce fails the test unless each Message-ID in ids is stored
// exactly once in the mailbox, no other customer message is stored there,
// and no ledger write was accepted out of fence order.
func RequireExactlyOnce(t testing.TB, st *store.Store, mailboxID int64, ids []string) {
	t.Helper()
	a, err := st.AuditMailbox(context.Background(), mailboxID)
	if err != nil {
		t.Fatal(err)
	}
	missing, twice := 0, 0
	for _, id := range ids {
		switch n := a.StoredMessageIDs[id]; {
		case n == 0:
			missing++
		case n > 1:
			twice++
		}
	}
	if missing > 0 || twice > 0 || len(a.StoredMessageIDs) != len(ids) {
		t.Fatalf("mailbox %d: want %d messages stored exactly once: %d missing, %d stored more than once, %d distinct stored",
			mailboxID, len(ids), missing, twice, len(a.StoredMessageIDs))
	}
	if a.FenceViolations != 0 {
		t.Fatalf("mailbox %d: %d ledger writes accepted out of fence order", mailboxID, a.FenceViolations)
	}
}

// Ingest stores one message as a fetch under src's fence would.
func Ingest(ctx context.Context, st *store.Store, src helpdesk.MessageSource, msg *helpdesk.IncomingMessage) (helpdesk.IngestResult, error) {
	return st.FetchHandle(src.MailboxID, src.Fence).Ingest(ctx, src, msg)
}

// IngestGroup stores msgs in one transaction, as the fetcher's group
// commit does; srcs[i] is where msgs[i] came from, all of one mailbox and
// fence.
func IngestGroup(ctx context.Context, st *store.Store, srcs []helpdesk.MessageSource, msgs []*helpdesk.IncomingMessage) ([]helpdesk.IngestResult, error) {
	b, err := st.FetchHandle(srcs[0].MailboxID, srcs[0].Fence).BeginIngest(ctx, msgs)
	if err != nil {
		return nil, err
	}
	defer b.Rollback()
	results := make([]helpdesk.IngestResult, len(msgs))
	for i, msg := range msgs {
		if results[i], err = b.Ingest(ctx, srcs[i], msg); err != nil {
			return nil, err
		}
	}
	return results, b.Commit(ctx)
}
