package web

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// sseEvent is one event as a stream client parses it.
type sseEvent struct {
	ID   int64
	Name string
	Data helpdesk.Event
}

// openStream opens an event stream at base+path with the headers and
// returns its events as they arrive; the stream is subscribed when it
// returns (the server answers only after subscribing).
func openStream(t testing.TB, base, path string, header http.Header) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := make(chan sseEvent, 1024)
	go func() {
		defer resp.Body.Close()
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Name != "" {
					events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.ID, _ = strconv.ParseInt(line[4:], 10, 64)
			case strings.HasPrefix(line, "event: "):
				ev.Name = line[7:]
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(line[6:]), &ev.Data); err != nil {
					ev.Name = "unparsable data: " + line
				}
			}
		}
	}()
	return events
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// want is an expected event: its name, conversation and whether it names
// a thread.
type want struct {
	name   string
	conv   int64
	thread bool
}

// expectEvents reads len(wants) events and checks them and their order;
// it returns them.
func expectEvents(t *testing.T, events <-chan sseEvent, after int64, wants ...want) []sseEvent {
	t.Helper()
	var got []sseEvent
	timeout := time.After(30 * time.Second)
	for i, w := range wants {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("stream ended after %d events %+v; want %+v", i, got, wants)
			}
			got = append(got, ev)
			if ev.Name != w.name || ev.Data.ConversationID != w.conv || (ev.Data.ThreadID != nil) != w.thread {
				t.Fatalf("event %d: %s conversation %d thread %v; want %+v (all so far %+v)", i, ev.Name, ev.Data.ConversationID, ev.Data.ThreadID, w, got)
			}
			if ev.ID <= after {
				t.Fatalf("event %d: id %d after %d: out of order", i, ev.ID, after)
			}
			after = ev.ID
		case <-timeout:
			t.Fatalf("got %d events %+v; want %+v", len(got), got, wants)
		}
	}
	return got
}

// TestEventStreamAPI: GET /api/v1/events delivers the changes of the
// agent's mailboxes, in commit order, and none of another mailbox; a
// client that reconnects with Last-Event-ID gets what it missed, then the
// live events.
func TestEventStreamAPI(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, dialect string) {
		w := setupWorkspace(t, dialect)
		ctx := context.Background()
		agent := helpdesk.ViewerOf(w.agent)
		stream := openStream(t, w.ts.URL, "/api/v1/events", bearer(w.agentToken))

		created := w.ingest(t, w.mb1, &helpdesk.IncomingMessage{From: helpdesk.Address{Email: "dan@customer.example"}, Subject: "Live", Text: "New here"})
		w.ingest(t, w.mb2, &helpdesk.IncomingMessage{From: helpdesk.Address{Email: "eve@customer.example"}, Subject: "Hidden", Text: "Not for the agent"})
		if _, err := w.store.AddReply(ctx, agent, w.c1, helpdesk.NewReply{Body: "On its way"}); err != nil {
			t.Fatal(err)
		}
		status := helpdesk.StatusPending
		if err := w.store.UpdateConversation(ctx, agent, w.c2, helpdesk.ConversationChange{Status: &status}); err != nil {
			t.Fatal(err)
		}
		if err := w.store.AddTag(ctx, agent, w.c2, "billing", 0); err != nil {
			t.Fatal(err)
		}
		got := expectEvents(t, stream, 0,
			want{helpdesk.EventConversationCreated, created.ConversationID, false},
			want{helpdesk.EventThreadCreated, created.ConversationID, true},
			want{helpdesk.EventConversationUpdated, w.c1, false},
			want{helpdesk.EventThreadCreated, w.c1, true},
			want{helpdesk.EventConversationUpdated, w.c2, false},
			want{helpdesk.EventConversationUpdated, w.c2, false},
		)
		if *got[1].Data.ThreadID != created.ThreadID || got[0].Data.MailboxID != w.mb1 {
			t.Fatalf("thread.created names thread %d of mailbox %d; want %d of %d", *got[1].Data.ThreadID, got[0].Data.MailboxID, created.ThreadID, w.mb1)
		}

		// Reconnect after the second event: the missed ones come first,
		// then what happens next.
		h := bearer(w.agentToken)
		h.Set("Last-Event-ID", strconv.FormatInt(got[1].ID, 10))
		resumed := openStream(t, w.ts.URL, "/api/v1/events", h)
		note, err := w.store.AddNote(ctx, agent, w.c1, "Checked the printer", 0)
		if err != nil {
			t.Fatal(err)
		}
		again := expectEvents(t, resumed, got[1].ID,
			want{helpdesk.EventConversationUpdated, w.c1, false},
			want{helpdesk.EventThreadCreated, w.c1, true},
			want{helpdesk.EventConversationUpdated, w.c2, false},
			want{helpdesk.EventConversationUpdated, w.c2, false},
			want{helpdesk.EventConversationUpdated, w.c1, false},
			want{helpdesk.EventThreadCreated, w.c1, true},
		)
		for i := range 4 {
			if again[i].ID != got[i+2].ID {
				t.Fatalf("replayed event %d has id %d; the live stream sent it as %d", i, again[i].ID, got[i+2].ID)
			}
		}
		if *again[5].Data.ThreadID != note.ThreadID {
			t.Fatalf("live event after the replay names thread %d; want the note %d", *again[5].Data.ThreadID, note.ThreadID)
		}

		// An admin resuming from the start sees the other mailbox too.
		h = bearer(w.adminToken)
		h.Set("Last-Event-ID", "0")
		all := openStream(t, w.ts.URL, "/api/v1/events", h)
		timeout := time.After(30 * time.Second)
		for hidden := false; !hidden; {
			select {
			case ev := <-all:
				hidden = ev.Data.MailboxID == w.mb2 && ev.Data.ConversationID != w.c3
			case <-timeout:
				t.Fatal("the admin's stream did not replay the other mailbox's new conversation")
			}
		}

		// A stream without Last-Event-ID tells the client its position.
		last, err := w.store.LastEventID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if head := streamHead(t, w.ts.URL+"/api/v1/events", bearer(w.agentToken)); head != "retry: 1000\n\nid: "+strconv.FormatInt(last, 10)+"\n\n" {
			t.Fatalf("stream starts with %q; want the retry and the position %d", head, last)
		}

		if resp, _ := w.api(t, w.agentToken, http.MethodGet, "/api/v1/events?last_event_id=x"); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("bad Last-Event-ID: %d", resp.StatusCode)
		}
	})
}

// streamHead reads a stream's first two messages, raw.
func streamHead(t *testing.T, url string, header http.Header) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	var head strings.Builder
	for blanks := 0; blanks < 2; {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream head %q: %v", head.String(), err)
		}
		head.WriteString(line)
		if line == "\n" {
			blanks++
		}
	}
	return head.String()
}
