package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/notifier"
	"github.com/helpdesk/helpdesk/internal/testserver"
)

// TestAPIForward: POST /api/v1/conversations/{id}/forward refuses bad
// input (422 naming the field), a conversation the caller may not see
// (404) and a stale version (409); a good one is 201 with the forward's
// Message-ID and the note that records it, and the mail goes out.
func TestAPIForward(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		url := "/api/v1/conversations/" + itoa(w.c1) + "/forward"
		for body, field := range map[string]string{
			`{}`:             "to",
			`{"to": "nope"}`: "to",
			`{"to": "Vendor <vendor@outside.example>"}`:           "to",
			`{"to": "support2@example.com"}`:                      "to", // our own mailbox
			`{"to": "vendor@outside.example", "note": "a\u0000"}`: "note",
			`{"to": "vendor@outside.example", "body": "x"}`:       "body",
			`{"to": "vendor@outside.example", "version": 0}`:      "version",
		} {
			code, out, _ := w.call(t, w.agentToken, "POST", url, body)
			if fields, _ := out["fields"].(map[string]any); code != http.StatusUnprocessableEntity || fields[field] == nil {
				t.Errorf("%s: %d %v, want 422 naming %s", body, code, out, field)
			}
		}
		if code, out, _ := w.call(t, w.agentToken, "POST", "/api/v1/conversations/"+itoa(w.c3)+"/forward", `{"to": "vendor@outside.example"}`); code != http.StatusNotFound {
			t.Errorf("forward of another mailbox's conversation: %d %v", code, out)
		}
		_, conv, _ := w.call(t, w.agentToken, "GET", "/api/v1/conversations/"+itoa(w.c1), "")
		seen := conv["version"].(float64)
		w.ingest(t, w.mb1, &helpdesk.IncomingMessage{From: helpdesk.Address{Email: "alice@customer.example"}, Subject: "Re: Printer on fire",
			Text: "Now it smokes too.", InReplyTo: conv["threads"].([]any)[0].(map[string]any)["message_id"].(string)})
		if code, out, _ := w.call(t, w.agentToken, "POST", url, fmt.Sprintf(`{"to": "vendor@outside.example", "version": %v}`, seen)); code != http.StatusConflict {
			t.Errorf("forward on a stale version: %d %v", code, out)
		}
		if rows, err := w.store.OutboxByKind(context.Background(), "forward", 10); err != nil || len(rows) != 0 {
			t.Fatalf("a refused forward was queued: %v %v", rows, err)
		}

		code, out, h := w.call(t, w.agentToken, "POST", url, `{"to": "vendor@outside.example", "note": "Can you help?"}`)
		if code != http.StatusCreated {
			t.Fatalf("forward: %d %v", code, out)
		}
		note, _ := out["thread"].(map[string]any)
		delivery, _ := note["delivery"].(map[string]any)
		msgID, _ := out["message_id"].(string)
		if msgID == "" || note["kind"] != "note" || !strings.Contains(fmt.Sprint(note["body_text"]), "Forwarded this conversation to vendor@outside.example.") ||
			delivery["status"] != "queued" || h.Get("ETag") == "" {
			t.Fatalf("forward answer: %v", out)
		}
		got := sendOutbox(t, w, "vendor@outside.example")["vendor@outside.example"]
		if strings.Trim(got.MessageID, "<>") != strings.Trim(msgID, "<>") || !strings.Contains(readMail(t, got.Data).text, "Can you help?") {
			t.Errorf("the mail sent is not the forward answered: Message-ID %s, answered %s", got.MessageID, msgID)
		}
	})
}

// TestForwardDeliveryOnItsNote: the note that records a forward shows the
// forward mail's delivery as a reply does, on the page and in the API:
// queued, failed with the server's answer (with a retry button for the
// agent), and sent with its time after the retry. A plain note has none.
func TestForwardDeliveryOnItsNote(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		ctx := context.Background()
		plain, err := w.store.AddNote(ctx, helpdesk.ViewerOf(w.agent), w.c1, "just a note", 0)
		if err != nil {
			t.Fatal(err)
		}
		agent := w.session(t, w.agent)
		path := "/conversations/" + itoa(w.c1)
		if resp, page := agent.submitMultipart(path+"/forward", map[string]string{"forward_to": "vendor@outside.example"}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("forward: %d\n%s", resp.StatusCode, page)
		}
		d, err := w.store.Conversation(ctx, helpdesk.ViewerOf(w.agent), w.c1)
		if err != nil {
			t.Fatal(err)
		}
		noteID := d.Threads[len(d.Threads)-1].ID
		threadHead := func() string {
			t.Helper()
			_, page := agent.get(path)
			i := strings.Index(page, `id="thread-`+itoa(noteID)+`"`)
			if i < 0 {
				t.Fatalf("the forward's note is not on the page")
			}
			return page[i : i+strings.Index(page[i:], "</header>")]
		}
		apiDelivery := func(threadID int64) map[string]any {
			t.Helper()
			_, out, _ := w.call(t, w.agentToken, "GET", "/api/v1/conversations/"+itoa(w.c1), "")
			for _, th := range out["threads"].([]any) {
				if th := th.(map[string]any); th["id"] == float64(threadID) {
					d, _ := th["delivery"].(map[string]any)
					return d
				}
			}
			t.Fatalf("thread %d not in the API's conversation", threadID)
			return nil
		}
		if head := threadHead(); !strings.Contains(head, `data-delivery="queued">forward queued, not sent yet<`) {
			t.Errorf("a new forward's note does not show it queued:\n%s", head)
		}
		if d := apiDelivery(plain.ThreadID); d != nil {
			t.Errorf("a plain note has a delivery: %v", d)
		}

		sink := testserver.StartSMTP(t)
		sink.FailRate(1) // 451 to every mail; one attempt only: failed
		stop := startTestNotifier(t, w, sink)
		waitThreadDelivery(t, w, w.c1, noteID, helpdesk.DeliveryFailed)
		stop()
		if d := apiDelivery(noteID); d["status"] != "failed" || !strings.Contains(fmt.Sprint(d["error"]), "451") {
			t.Errorf("a failed forward in the API: %v", d)
		}
		head := threadHead()
		if !strings.Contains(head, `data-delivery="failed">forward not delivered: `) || !strings.Contains(head, `data-retry="`+itoa(noteID)+`"`) {
			t.Errorf("a failed forward's note shows no failure or no retry:\n%s", head)
		}

		if resp, page := agent.submitMultipart(path+"/replies/"+itoa(noteID)+"/retry", map[string]string{}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("retry: %d\n%s", resp.StatusCode, page)
		}
		sink.FailRate(0)
		defer startTestNotifier(t, w, sink)()
		waitThreadDelivery(t, w, w.c1, noteID, helpdesk.DeliverySent)
		if d := apiDelivery(noteID); d["status"] != "sent" || d["sent_at"] == nil {
			t.Errorf("a sent forward in the API: %v", d)
		}
		if head := threadHead(); !strings.Contains(head, `data-delivery="sent">forward sent `) || strings.Contains(head, "data-retry") {
			t.Errorf("a sent forward's note:\n%s", head)
		}
		var forwards []string
		for _, m := range sink.Messages() {
			if slices.Contains(m.To, "vendor@outside.example") {
				forwards = append(forwards, m.MessageID)
			}
		}
		if len(forwards) != 1 {
			t.Errorf("the sink took %d forwards, want one: %v", len(forwards), forwards)
		}
	})
}

// startTestNotifier sends the outbox to sink, one attempt per mail, until
// the returned function stops it.
func startTestNotifier(t *testing.T, w *workspace, sink *testserver.SMTPSink) func() {
	t.Helper()
	n := notifier.New(w.store, notifier.Config{SMTPURL: sink.URL(), PollEvery: 20 * time.Millisecond, RetryBase: time.Hour, MaxAttempts: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return n.Stop
}

// waitThreadDelivery waits for the notifier to bring a thread's mail to a
// delivery state.
func waitThreadDelivery(t *testing.T, w *workspace, convID, threadID int64, want string) {
	t.Helper()
	state := func() string {
		d, err := w.store.Conversation(context.Background(), helpdesk.ViewerOf(w.agent), convID)
		if err != nil {
			t.Fatal(err)
		}
		for _, th := range d.Threads {
			if th.ID == threadID && th.Delivery != nil {
				return th.Delivery.Status
			}
		}
		return ""
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(30 * time.Second)
	for state() != want {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("thread %d's mail is %q, want %s", threadID, state(), want)
		}
	}
}
