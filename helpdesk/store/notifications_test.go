package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
	"github.com/helpdesk/helpdesk/internal/teststore"
)

func TestCustomerMailNotifications(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			o := setupOutbox(t, dialect)
			ctx := context.Background()

			first := o.ingest(t, customerMail{from: "cus@customer.example", messageID: "m1@customer.example"})
			want := []string{
				fmt.Sprintf("notify:new-conversation:%d:%d", first.ThreadID, o.admin.ID),
				fmt.Sprintf("notify:new-conversation:%d:%d", first.ThreadID, o.agent.ID),
			}
			if got := o.keys(t, "notification"); !slices.Equal(got, obSorted(want)) {
				t.Fatalf("notifications %v, want %v (admin and agent with access; not the stranger nor the one who turned them off)", got, want)
			}
			// The same mail again, under another UID: no new rows.
			o.ingest(t, customerMail{from: "cus@customer.example", messageID: "m1@customer.example"})
			if got := o.keys(t, "notification"); len(got) != 2 {
				t.Fatalf("ingesting twice enqueued again: %v", got)
			}
			rows, _ := o.s.OutboxByKind(ctx, "notification", 10)
			if n := rows[0]; n.From != "help@alpha.example" || n.Headers["Auto-Submitted"] != "auto-generated" ||
				n.Headers[helpdesk.LoopHeader] != helpdesk.NewMailSigner(teststore.SecretKey).LoopValue("help@alpha.example") || n.ThreadID != first.ThreadID {
				t.Fatalf("notification %+v", n)
			}

			// A customer reply notifies everyone with access while unassigned...
			reply := o.ingest(t, customerMail{from: "cus@customer.example", inReplyTo: "m1@customer.example"})
			if reply.ConversationID != first.ConversationID {
				t.Fatal("reply did not thread")
			}
			if got := countPrefix(o.keys(t, "notification"), "notify:customer-reply:"); got != 2 {
				t.Fatalf("%d customer-reply notifications, want 2", got)
			}
			// ...and only the assignee once assigned.
			o.exec(t, `UPDATE conversations SET assignee_id = ? WHERE id = ?`, o.agent.ID, first.ConversationID)
			reply2 := o.ingest(t, customerMail{from: "cus@customer.example", inReplyTo: "m1@customer.example"})
			if got := o.keys(t, "notification"); !slices.Contains(got, fmt.Sprintf("notify:customer-reply:%d:%d", reply2.ThreadID, o.agent.ID)) ||
				countPrefix(got, fmt.Sprintf("notify:customer-reply:%d:", reply2.ThreadID)) != 1 {
				t.Fatalf("assigned reply notified %v", got)
			}

			// Nothing for machines or our own mail.
			before := len(o.keys(t, "notification"))
			ownID := rows[0].MessageID
			for name, m := range map[string]customerMail{
				"auto-reply flag":        {from: "ooo@customer.example", autoReply: true},
				"auto-submitted header":  {from: "ooo2@customer.example", rawHeaders: "Auto-Submitted: auto-replied\r\n"},
				"our loop header":        {from: "fwd@customer.example", rawHeaders: helpdesk.LoopHeader + ": " + rows[0].Headers[helpdesk.LoopHeader] + "\r\n"},
				"our message id":         {from: "fwd2@customer.example", messageID: ownID},
				"answer to notification": {from: "agent2@customer.example", inReplyTo: ownID},
			} {
				o.ingest(t, m)
				if got := len(o.keys(t, "notification")); got != before {
					t.Fatalf("%s: notified (%d rows, want %d)", name, got, before)
				}
			}
			// A foreign helpdesk's loop header is not ours, and neither is one
			// forged from outside or a Message-ID computed as ours were
			// before they were keyed: a person may write through them.
			for name, m := range map[string]customerMail{
				"foreign loop header":                  {from: "other@customer.example", rawHeaders: helpdesk.LoopHeader + ": help@elsewhere.example\r\n"},
				"forged loop header":                   {from: "forger@customer.example", rawHeaders: helpdesk.LoopHeader + ": help@alpha.example\r\n"},
				"forged loop signature":                {from: "forger2@customer.example", rawHeaders: helpdesk.LoopHeader + ": help@alpha.example; sig=00112233445566778899aabbccddeeff\r\n"},
				"computed message id":                  {from: "forger3@customer.example", messageID: unkeyedMessageID(rows[0].DedupKey, "alpha.example")},
				"answer to a computed notification id": {from: "forger4@customer.example", inReplyTo: unkeyedMessageID(rows[0].DedupKey, "alpha.example")},
			} {
				o.ingest(t, m)
				if got := len(o.keys(t, "notification")); got != before+2 {
					t.Fatalf("%s: %d rows, want %d", name, got, before+2)
				}
				before += 2
			}
		})
	}
}

func TestAutoAck(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			o := setupOutbox(t, dialect)
			ctx := context.Background()
			ackBox := o.mailbox(t, "ack@alpha.example", true)

			first := o.ingest(t, customerMail{mailbox: ackBox, from: "Cus@Customer.example", subject: "Broken", messageID: "a1@customer.example"})
			acks, _ := o.s.OutboxByKind(ctx, "auto-ack", 10)
			if len(acks) != 1 {
				t.Fatalf("%d acks, want 1", len(acks))
			}
			a := acks[0]
			if a.To[0] != "cus@customer.example" || a.From != "ack@alpha.example" || a.Headers["Auto-Submitted"] != "auto-replied" ||
				a.Headers["In-Reply-To"] != "<a1@customer.example>" || a.Subject != fmt.Sprintf("Re: Broken [#%d]", first.ConversationID) {
				t.Fatalf("ack %+v", a)
			}
			// Rate limit: a second conversation from the same sender within the interval gets none.
			o.ingest(t, customerMail{mailbox: ackBox, from: "cus@customer.example", subject: "Also broken"})
			// Never to machines, never to our own mailboxes, never on replies.
			o.ingest(t, customerMail{mailbox: ackBox, from: "bot@customer.example", autoReply: true})
			o.ingest(t, customerMail{mailbox: ackBox, from: "mailer-daemon@customer.example"})
			o.ingest(t, customerMail{mailbox: ackBox, from: "help@alpha.example"})
			o.ingest(t, customerMail{mailbox: ackBox, from: "cus@customer.example", inReplyTo: "a1@customer.example"})
			// No ack from a mailbox without auto_ack.
			o.ingest(t, customerMail{from: "new@customer.example"})
			if acks, _ := o.s.OutboxByKind(ctx, "auto-ack", 10); len(acks) != 1 {
				t.Fatalf("%d acks, want still 1", len(acks))
			}
			// After the interval the sender can get one again.
			o.exec(t, `UPDATE auto_acks SET sent_at = ?`, time.Now().UTC().Add(-helpdesk.AutoAckInterval-time.Minute))
			o.ingest(t, customerMail{mailbox: ackBox, from: "cus@customer.example", subject: "Third"})
			if acks, _ := o.s.OutboxByKind(ctx, "auto-ack", 10); len(acks) != 2 {
				t.Fatalf("%d acks after the interval, want 2", len(acks))
			}
		})
	}
}

func TestAssignedNotification(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			o := setupOutbox(t, dialect)
			ctx := context.Background()
			res := o.ingest(t, customerMail{from: "cus@customer.example"})
			conv := res.ConversationID
			for range 2 { // a retried request enqueues once
				if err := o.s.NotifyAssignedForTest(ctx, conv, o.agent.ID, o.admin.ID); err != nil {
					t.Fatal(err)
				}
			}
			// Self-assignment, preference off, no access, unassign: nothing.
			for _, u := range []int64{o.admin.ID, o.quiet.ID, o.stranger.ID, 0} {
				if err := o.s.NotifyAssignedForTest(ctx, conv, u, o.admin.ID); err != nil {
					t.Fatal(err)
				}
			}
			got := countPrefix(o.keys(t, "notification"), "notify:assigned:")
			rows, _ := o.s.OutboxByKind(ctx, "notification", 50)
			var assigned []helpdesk.OutboxMessage
			for _, r := range rows {
				if r.Subject == fmt.Sprintf("[#%d] Assigned to you: Printer on fire", conv) {
					assigned = append(assigned, r)
				}
			}
			if got != 1 || len(assigned) != 1 || assigned[0].To[0] != o.agent.Email {
				t.Fatalf("assigned notifications %d %+v, want one to the agent", got, assigned)
			}
			// A new message, then assigned again: a new event.
			o.ingest(t, customerMail{from: "cus@customer.example", inReplyTo: fmt.Sprintf("c%d@customer.example", 1)})
			if err := o.s.NotifyAssignedForTest(ctx, conv, o.agent.ID, 0); err != nil {
				t.Fatal(err)
			}
			if got := countPrefix(o.keys(t, "notification"), "notify:assigned:"); got != 2 {
				t.Fatalf("%d assigned notifications, want 2", got)
			}
		})
	}
}

func TestFetchAlerts(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			o := setupOutbox(t, dialect)
			ctx := context.Background()
			report := func(failures ...int) {
				t.Helper()
				for _, f := range failures {
					if err := o.s.UpdateFetchAlert(ctx, o.mb, f); err != nil {
						t.Fatal(err)
					}
				}
			}
			report(0, 1, 2)
			if got := o.keys(t, "alert"); len(got) != 0 {
				t.Fatalf("alerts before %d failures: %v", helpdesk.FetchAlertAfter, got)
			}
			report(3, 4, 5, 6)
			mbKey := func(what string, ep int) string { return fmt.Sprintf("alert:%s:%d:%d", what, o.mb, ep) }
			if got := o.keys(t, "alert"); !slices.Equal(got, []string{mbKey("failing", 1)}) {
				t.Fatalf("alerts %v", got)
			}
			// Reports racing (two fetchers, a repeated report): one recovery.
			done := make(chan error, 4)
			for range 4 {
				go func() { done <- o.s.UpdateFetchAlert(ctx, o.mb, 0) }()
			}
			for range 4 {
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			report(0, 1)
			want := obSorted([]string{mbKey("failing", 1), mbKey("recovered", 1)})
			if got := o.keys(t, "alert"); !slices.Equal(got, want) {
				t.Fatalf("alerts %v, want %v", got, want)
			}
			report(3, 0)
			want = obSorted(append(want, mbKey("failing", 2), mbKey("recovered", 2)))
			if got := o.keys(t, "alert"); !slices.Equal(got, want) {
				t.Fatalf("alerts %v, want %v", got, want)
			}
			alerts, _ := o.s.OutboxByKind(ctx, "alert", 10)
			if a := alerts[0]; !slices.Equal(a.To, []string{o.admin.Email}) || a.From != "help@alpha.example" {
				t.Fatalf("alert goes to %v from %s, want the admins", a.To, a.From)
			}
		})
	}
}

// Notifications link to the pages they are about, on the public URL.
func TestNotificationLinksUsePublicURL(t *testing.T) {
	for _, dialect := range teststore.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			const base = "https://help.example.com/desk"
			o := setupOutboxWith(t, dialect, store.Options{PublicURL: base})
			ctx := context.Background()
			res := o.ingest(t, customerMail{from: "cus@customer.example"})
			if err := o.s.NotifyAssignedForTest(ctx, res.ConversationID, o.agent.ID, o.admin.ID); err != nil {
				t.Fatal(err)
			}
			convLink := fmt.Sprintf("Open: %s/conversations/%d\n", base, res.ConversationID)
			rows, _ := o.s.OutboxByKind(ctx, "notification", 10)
			if len(rows) != 3 { // new conversation to admin and agent, assigned to agent
				t.Fatalf("%d notifications, want 3", len(rows))
			}
			for _, r := range rows {
				if !strings.Contains(r.BodyText, convLink) {
					t.Fatalf("notification %q has no link %q:\n%s", r.Subject, convLink, r.BodyText)
				}
			}
			for _, f := range []int{1, 2, 3} {
				if err := o.s.UpdateFetchAlert(ctx, o.mb, f); err != nil {
					t.Fatal(err)
				}
			}
			alerts, _ := o.s.OutboxByKind(ctx, "alert", 10)
			if len(alerts) != 1 || !strings.Contains(alerts[0].BodyText, "Open: "+base+"/admin/status\n") {
				t.Fatalf("alerts %+v, want one linking to the status page", alerts)
			}
		})
	}
}

func countPrefix(keys []string, prefix string) int {
	n := 0
	for _, k := range keys {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			n++
		}
	}
	return n
}

func obSorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
