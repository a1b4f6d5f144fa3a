package fetcher_test

import (
	"context"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/fetcher"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// A lease lost mid-FETCH closes the connection under the session while it
// reads literals (headers, bodies). The session then reports an error and
// nothing else happens; under -race this would catch the session reading a
// literal again while go-imap's reader goroutine decodes past it.
func TestSessionClosedMidFetch(t *testing.T) {
	t.Parallel()
	testserver.SkipShort(t, "Dovecot")
	e := setup(t, "sqlite", nil)
	const n = 500
	raws, _ := teststore.Mails("msg", 0, n, 2000)
	e.dovecot.AppendMany(t, e.user, "INBOX", raws)
	m, err := e.store.Mailbox(context.Background(), e.mailbox)
	if err != nil {
		t.Fatal(err)
	}
	uids := make([]uint32, n)
	for i := range uids {
		uids[i] = uint32(i + 1)
	}
	fetches := map[string]func(s *fetcher.Session) error{
		"headers": func(s *fetcher.Session) error { _, err := s.Envelopes(uids); return err },
		"bodies":  func(s *fetcher.Session) error { return s.Bodies(uids, func(uint32, []byte) error { return nil }) },
	}
	for name, fetch := range fetches {
		// Close after a growing delay: early ones hit the first
		// literals, later ones the middle of the stream.
		failed := 0
		for i := range 20 {
			ctx, lose := context.WithCancel(context.Background())
			s, err := fetcher.Dial(ctx, m, fetcher.Login{Password: "secret-pass"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Select("INBOX"); err != nil {
				t.Fatal(err)
			}
			time.AfterFunc(time.Duration(i)*time.Millisecond, lose)
			if fetch(s) != nil {
				failed++
			}
			s.Close()
			lose()
		}
		t.Logf("%s: %d of 20 fetches cut off", name, failed)
		if failed == 0 {
			t.Fatalf("%s: no fetch was cut off; the test shows nothing", name)
		}
	}
}
