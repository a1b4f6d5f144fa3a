package notifier

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/fetcher/mailparse"
	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/testserver"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

// deliver parses raw with the fetcher's parser, as the fetch service does,
// and ingests it into a mailbox.
func deliver(t *testing.T, s *store.Store, mailboxID int64, uid uint32, raw []byte) helpdesk.IngestResult {
	t.Helper()
	msg, err := mailparse.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := teststore.Ingest(context.Background(), s, helpdesk.MessageSource{MailboxID: mailboxID, Folder: "INBOX", UIDValidity: 1, UID: uid}, msg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func addMailbox(t *testing.T, s *store.Store, email string, autoAck bool) int64 {
	t.Helper()
	id, err := s.CreateMailbox(context.Background(), helpdesk.MailboxInput{
		Name: "Support " + email, Email: email, IMAPHost: "127.0.0.1", IMAPPort: 143, IMAPSecurity: "none",
		IMAPUser: "u", IMAPPassword: "p", AutoAck: autoAck,
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestNoMailForMachines: auto-replies, bounces and read receipts (real
// fixtures, parsed by the fetcher) get no notification and no
// auto-acknowledgement; a person's mail after them does.
func TestNoMailForMachines(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := setup(t, dialect, 1)
			ackBox := addMailbox(t, e.s, "ack@alpha.example", true)
			start(t, e.s, testConfig(e, "n1"))
			fixtures := []string{"dsn-bounce.eml", "mailer-daemon.eml", "auto-submitted.eml", "auto-x-autoreply.eml",
				"mdn-read-receipt.eml", "auto-precedence-bulk.eml"}
			for i, name := range fixtures {
				raw, err := os.ReadFile(filepath.Join("..", "..", "fetcher", "mailparse", "testdata", "eml", name))
				if err != nil {
					t.Fatal(err)
				}
				if res := deliver(t, e.s, ackBox, uint32(i+1), raw); res.Outcome != helpdesk.OutcomeNew {
					t.Fatalf("%s: %+v", name, res)
				}
			}
			person := "From: Real Person <person@customer.example>\r\nTo: ack@alpha.example\r\nSubject: Hello\r\n" +
				"Message-ID: <person-1@customer.example>\r\nDate: Tue, 04 Mar 2025 10:00:00 +0000\r\n\r\nA question.\r\n"
			deliver(t, e.s, ackBox, 100, []byte(person))
			waitDistinct(t, e.sink, 2, time.Minute) // the notification and the ack for the person
			waitSettled(t, e.s)
			msgs := e.sink.Messages()
			if len(msgs) != 2 {
				t.Fatalf("%d mails sent, want 2 (for the person only)", len(msgs))
			}
			for _, m := range msgs {
				if p, _ := mail.ReadMessage(bytes.NewReader(m.Data)); !strings.Contains(p.Header.Get("Subject"), "Hello") {
					t.Fatalf("mail about %q", p.Header.Get("Subject"))
				}
			}
		})
	}
}

// TestNoAckLoopBetweenHelpdesks: two helpdesks (two databases), each with
// an auto-acknowledging mailbox, and a person at one writing to the other.
// Mail between them is delivered round after round until it stops: at most
// one ack each. Also when a relay strips our Auto-Submitted and
// X-Auto-Response-Suppress headers, so only threading, the loop header and
// the per-sender rate limit protect.
func TestNoAckLoopBetweenHelpdesks(t *testing.T) {
	for _, strip := range []bool{false, true} {
		t.Run(fmt.Sprintf("strip=%v", strip), func(t *testing.T) {
			t.Parallel()
			sink := testserver.StartSMTP(t)
			type desk struct {
				s     *store.Store
				email string
				mb    int64
			}
			var desks []*desk
			for _, email := range []string{"help@alpha.example", "help@beta.example"} {
				// Each with its own secret key, as two installs have.
				signer := helpdesk.NewMailSigner("secret key of " + email)
				d := &desk{s: teststore.OpenURL(t, teststore.URL(t, "sqlite"), store.Options{Signer: signer}), email: email}
				d.mb = addMailbox(t, d.s, email, true)
				cfg := testConfig(&env{sink: sink}, email)
				start(t, d.s, cfg)
				desks = append(desks, d)
			}
			// Someone at beta writes to alpha by hand.
			first := "From: help@beta.example\r\nTo: help@alpha.example\r\nSubject: Hello\r\n" +
				"Message-ID: <human-1@beta.example>\r\nDate: Tue, 04 Mar 2025 10:00:00 +0000\r\n\r\nHi.\r\n"
			deliver(t, desks[0].s, desks[0].mb, 1, []byte(first))
			stripRe := regexp.MustCompile(`(?mi)^(Auto-Submitted|X-Auto-Response-Suppress):.*\r\n`)
			delivered, uid := 0, uint32(1)
			for round := 0; ; round++ {
				if round == 10 {
					t.Fatalf("mail still flowing after %d rounds: a loop", round)
				}
				for _, d := range desks {
					waitSettled(t, d.s)
				}
				msgs := sink.Messages()
				if len(msgs) == delivered {
					break // quiet
				}
				for _, m := range msgs[delivered:] {
					raw := m.Data
					if strip {
						raw = stripRe.ReplaceAll(raw, nil)
					}
					for _, d := range desks {
						for _, rcpt := range m.To {
							if rcpt == d.email {
								uid++
								deliver(t, d.s, d.mb, uid, raw)
							}
						}
					}
				}
				delivered = len(msgs)
			}
			acks := map[string]int{}
			for _, m := range sink.Messages() {
				acks[m.From]++ // auto-acks go out with the null sender, so count by header
				p, _ := mail.ReadMessage(bytes.NewReader(m.Data))
				from := p.Header.Get("From")
				acks["header "+from]++
			}
			for _, d := range desks {
				if n := acks["header <"+d.email+">"]; n > 1 {
					t.Errorf("%s sent %d auto-acknowledgements, want at most 1", d.email, n)
				}
			}
			if n := acks["header <help@beta.example>"]; !strip && n != 0 {
				t.Errorf("beta acknowledged alpha's auto-replied ack (%d)", n)
			}
			if n := acks["header <help@alpha.example>"]; n != 1 {
				t.Errorf("alpha sent %d acks to the person, want 1", n)
			}
			if acks[""] != len(sink.Messages()) {
				t.Errorf("auto-acks with a return path: %v (RFC 3834 wants MAIL FROM:<>)", acks)
			}
			t.Logf("%d mails in all: %v", len(sink.Messages()), acks)
		})
	}
}
