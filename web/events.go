package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Live events as server-sent events: /events for pages (session cookie),
// /api/v1/events for API clients (bearer token). Each web process has one
// eventHub that reads the events table after the last id it has seen
// whenever the store signals a commit (LISTEN/NOTIFY on PostgreSQL, so
// events written through any web or fetch instance arrive), and hands each
// event to the streams whose user may see its mailbox. A client that
// reconnects with Last-Event-ID first gets the stored events after it.

const (
	eventBatch         = 500            // events read per query
	subscriberBuffer   = 1024           // events a slow stream may lag behind before it is closed
	eventRetention     = 24 * time.Hour // Last-Event-ID can resume this far back
	eventPruneInterval = time.Hour
	eventLookInterval  = 5 * time.Second  // reads without a wake-up, after a failed read
	streamKeepAlive    = 20 * time.Second // a comment line keeps proxies from closing an idle stream
	streamWriteTimeout = 30 * time.Second
)

// subscriber is one open stream.
type subscriber struct {
	mailboxes map[int64]bool // nil: every mailbox (admins)
	events    chan helpdesk.Event
	gone      chan struct{} // closed when the hub drops the stream (too slow, or stopping)
	dropOnce  sync.Once
}

func (sub *subscriber) drop() { sub.dropOnce.Do(func() { close(sub.gone) }) }

func (sub *subscriber) sees(ev helpdesk.Event) bool {
	return sub.mailboxes == nil || sub.mailboxes[ev.MailboxID]
}

// eventHub fans the events table out to this process's streams. It starts
// with the first stream and stops with the server.
type eventHub struct {
	store Store
	log   interface{ Warn(string, ...any) }

	ctx    context.Context
	cancel context.CancelFunc

	startMu sync.Mutex
	started bool

	mu   sync.Mutex
	last int64 // newest id handed out
	subs map[*subscriber]bool
}

func newEventHub(st Store, log interface{ Warn(string, ...any) }) *eventHub {
	ctx, cancel := context.WithCancel(context.Background())
	return &eventHub{store: st, log: log, ctx: ctx, cancel: cancel, subs: map[*subscriber]bool{}}
}

// start reads the newest id and begins to watch, once it succeeds.
func (h *eventHub) start() error {
	h.startMu.Lock()
	defer h.startMu.Unlock()
	if h.started {
		return nil
	}
	last, err := h.store.LastEventID(h.ctx)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.last = last
	h.mu.Unlock()
	h.started = true
	go h.run(h.store.WatchEvents(h.ctx))
	return nil
}

// stop ends the hub and every stream.
func (h *eventHub) stop() {
	h.cancel()
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		sub.drop()
		delete(h.subs, sub)
	}
}

func (h *eventHub) run(wake <-chan struct{}) {
	prune := time.NewTicker(eventPruneInterval)
	defer prune.Stop()
	// A read that failed (the database was away) is retried by the next
	// look even when no new commit wakes the hub.
	look := time.NewTicker(eventLookInterval)
	defer look.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-wake:
		case <-look.C:
		case <-prune.C:
			if _, err := h.store.DeleteEventsBefore(h.ctx, time.Now().Add(-eventRetention)); err != nil && h.ctx.Err() == nil {
				h.log.Warn("web: prune events", "err", err)
			}
			continue
		}
		if err := h.deliverNew(h.ctx); err != nil && h.ctx.Err() == nil {
			h.log.Warn("web: read events", "err", err)
		}
	}
}

// deliverNew reads every event after the last one and hands it out.
func (h *eventHub) deliverNew(ctx context.Context) error {
	for {
		h.mu.Lock()
		after := h.last
		h.mu.Unlock()
		evs, err := h.store.EventsAfter(ctx, after, eventBatch)
		if err != nil {
			return err
		}
		h.fanOut(evs)
		if len(evs) < eventBatch {
			return nil
		}
	}
}

func (h *eventHub) fanOut(evs []helpdesk.Event) {
	if len(evs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range evs {
		for sub := range h.subs {
			if !sub.sees(ev) {
				continue
			}
			select {
			case sub.events <- ev:
			default: // too slow: it reconnects and resumes from its Last-Event-ID
				sub.drop()
				delete(h.subs, sub)
			}
		}
	}
	h.last = evs[len(evs)-1].ID
}

// subscribe adds a stream; it receives every event after the returned id.
func (h *eventHub) subscribe(mailboxes map[int64]bool) (*subscriber, int64, error) {
	if h.ctx.Err() != nil {
		return nil, 0, echo.NewHTTPError(http.StatusServiceUnavailable, "shutting down")
	}
	if err := h.start(); err != nil {
		return nil, 0, err
	}
	sub := &subscriber{mailboxes: mailboxes, events: make(chan helpdesk.Event, subscriberBuffer), gone: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctx.Err() != nil {
		return nil, 0, echo.NewHTTPError(http.StatusServiceUnavailable, "shutting down")
	}
	h.subs[sub] = true
	return sub, h.last, nil
}

func (h *eventHub) unsubscribe(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, sub)
}

// eventStream is GET /events and GET /api/v1/events.
func (s *Server) eventStream(c echo.Context) error {
	ctx := c.Request().Context()
	resumeAfter, err := lastEventID(c)
	if err != nil {
		return err
	}
	mailboxes, err := s.streamMailboxes(ctx, viewer(c))
	if err != nil {
		return err
	}
	sub, live, err := s.events.subscribe(mailboxes)
	if err != nil {
		return err
	}
	defer s.events.unsubscribe(sub)

	w := newSSEWriter(c)
	if err := w.open(); err != nil {
		return nil
	}
	sent := live
	if resumeAfter >= 0 {
		if sent, err = s.replay(ctx, w, sub, resumeAfter, live); err != nil {
			return nil // the client reconnects and resumes
		}
	} else if w.position(live) != nil {
		return nil
	}
	lifetime := time.NewTimer(s.cfg.EventStreamLifetime)
	defer lifetime.Stop()
	keepAlive := time.NewTicker(streamKeepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.gone:
			return nil
		case <-lifetime.C:
			return nil // the client reconnects; its mailbox access is read again
		case <-keepAlive.C:
			if w.comment("keep-alive") != nil {
				return nil
			}
		case ev := <-sub.events:
			if ev.ID <= sent {
				continue // already replayed
			}
			if w.event(ev) != nil {
				return nil
			}
			sent = ev.ID
		}
	}
}

// replay sends the stored events the viewer may see with ids in
// (after, upTo]; the hub delivers the ones after upTo. It returns the last
// id sent or passed.
func (s *Server) replay(ctx context.Context, w *sseWriter, sub *subscriber, after, upTo int64) (int64, error) {
	for after < upTo {
		evs, err := s.cfg.Store.EventsAfter(ctx, after, eventBatch)
		if err != nil || len(evs) == 0 {
			return after, err
		}
		for _, ev := range evs {
			if ev.ID > upTo {
				return after, nil
			}
			if sub.sees(ev) {
				if err := w.event(ev); err != nil {
					return after, err
				}
			}
			after = ev.ID
		}
	}
	return after, nil
}

// streamMailboxes is the filter of a stream: nil (all) for admins, else
// the mailboxes given to the agent when the stream opened.
func (s *Server) streamMailboxes(ctx context.Context, v helpdesk.Viewer) (map[int64]bool, error) {
	if v.Admin {
		return nil, nil
	}
	refs, err := s.cfg.Store.VisibleMailboxes(ctx, v)
	if err != nil {
		return nil, err
	}
	set := make(map[int64]bool, len(refs))
	for _, r := range refs {
		set[r.ID] = true
	}
	return set, nil
}

// lastEventID reads the Last-Event-ID header (or the last_event_id query
// parameter, for clients that cannot set headers); -1 when absent.
func lastEventID(c echo.Context) (int64, error) {
	raw := strings.TrimSpace(c.Request().Header.Get("Last-Event-ID"))
	if raw == "" {
		raw = strings.TrimSpace(c.QueryParam("last_event_id"))
	}
	if raw == "" {
		return -1, nil
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 0 {
		return 0, &fieldError{status: http.StatusBadRequest, fields: map[string]string{"Last-Event-ID": "must be an event id (a whole number)"}}
	}
	return id, nil
}

// sseWriter writes the text/event-stream format, flushing each message
// and extending the write deadline per message (the server's write
// timeout would end a stream after a minute).
type sseWriter struct {
	c  echo.Context
	rc *http.ResponseController
}

func newSSEWriter(c echo.Context) *sseWriter {
	return &sseWriter{c: c, rc: http.NewResponseController(c.Response().Writer)}
}

func (w *sseWriter) open() error {
	h := w.c.Response().Header()
	h.Set(echo.HeaderContentType, "text/event-stream; charset=utf-8")
	h.Set("X-Accel-Buffering", "no")
	w.c.Response().WriteHeader(http.StatusOK)
	// A client reconnects after a second (the browser's default is 3).
	return w.write("retry: 1000\n\n")
}

func (w *sseWriter) event(ev helpdesk.Event) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return w.write(fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Name, data))
}

// position sets the client's last event id without an event, so that a
// client that reconnects before any event came resumes from here.
func (w *sseWriter) position(id int64) error { return w.write(fmt.Sprintf("id: %d\n\n", id)) }

func (w *sseWriter) comment(text string) error { return w.write(": " + text + "\n\n") }

func (w *sseWriter) write(msg string) error {
	_ = w.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	if _, err := w.c.Response().Write([]byte(msg)); err != nil {
		return err
	}
	return w.rc.Flush()
}
