package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jmoiron/sqlx"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// eventQueries are the queries of queries/events.sql.
type eventQueries struct {
	NotifyEvents       *sqlx.Stmt `query:"notify-events,postgres"`
	EventsAfter        *sqlx.Stmt `query:"events-after"`
	LastEventID        *sqlx.Stmt `query:"last-event-id"`
	DeleteEventsBefore *sqlx.Stmt `query:"delete-events-before"`
}

// eventsChannel is the PostgreSQL channel a commit with events notifies.
const eventsChannel = "helpdesk_events"

// sqliteEventPoll is how often a SQLite store looks for events another
// process (a fetcher of the same data directory) committed.
const sqliteEventPoll = time.Second

// addEvent records a live event of this transaction; it is written just
// before the commit (writeEvents).
func (t *tx) addEvent(name string, mailboxID, convID, threadID int64) {
	ev := helpdesk.Event{Name: name, MailboxID: mailboxID, ConversationID: convID}
	if threadID != 0 {
		ev.ThreadID = &threadID
	}
	t.events = append(t.events, ev)
}

// writeEvents inserts the transaction's events in the order they were
// added (a fetch transaction collects them for its last flush, one
// statement on PostgreSQL), with a NOTIFY on PostgreSQL for other web
// processes. Ids grow in commit order: SQLite has one writer at a time;
// PostgreSQL numbers the rows at commit, in insert order (migration 0012).
func (t *tx) writeEvents(ctx context.Context) error {
	if len(t.events) == 0 {
		return nil
	}
	q := &t.store.eventQ
	at := now()
	for _, ev := range t.events {
		var thread any // NULL: an event of the conversation
		if ev.ThreadID != nil {
			thread = *ev.ThreadID
		}
		if err := t.insert(ctx, insertEvent, ev.Name, ev.MailboxID, ev.ConversationID, thread, at); err != nil {
			return err
		}
	}
	if q.NotifyEvents != nil {
		if _, err := t.exec(ctx, q.NotifyEvents); err != nil {
			return fmt.Errorf("notify events: %w", err)
		}
	}
	return nil
}

// EventsAfter returns up to limit events with an id above after, oldest
// first.
func (s *Store) EventsAfter(ctx context.Context, after int64, limit int) ([]helpdesk.Event, error) {
	var evs []helpdesk.Event
	if err := s.eventQ.EventsAfter.SelectContext(ctx, &evs, after, limit); err != nil {
		return nil, fmt.Errorf("read events after %d: %w", after, err)
	}
	return evs, nil
}

// LastEventID is the id of the newest event (0 when there is none).
func (s *Store) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.eventQ.LastEventID.GetContext(ctx, &id); err != nil {
		return 0, fmt.Errorf("read last event id: %w", err)
	}
	return id, nil
}

// DeleteEventsBefore prunes events older than before.
func (s *Store) DeleteEventsBefore(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.eventQ.DeleteEventsBefore.ExecContext(ctx, before.UTC())
	if err != nil {
		return 0, fmt.Errorf("delete events: %w", err)
	}
	return res.RowsAffected()
}

// eventSignals wakes this process's event readers after a commit with
// events, without a round trip through the database.
type eventSignals struct {
	mu      sync.Mutex
	waiters map[chan struct{}]bool
}

func (e *eventSignals) add(ch chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.waiters == nil {
		e.waiters = map[chan struct{}]bool{}
	}
	e.waiters[ch] = true
}

func (e *eventSignals) remove(ch chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.waiters, ch)
}

func (e *eventSignals) wake() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for ch := range e.waiters {
		wake(ch)
	}
}

// wake signals ch without blocking; one pending signal is enough.
func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// WatchEvents returns a channel that receives a signal whenever new events
// may have been committed, by this process or another, until ctx ends. A
// signal says "read after your last id", not what changed; signals
// coalesce. On PostgreSQL a connection LISTENs to the commits' NOTIFY (and
// signals after each reconnect, for what it may have missed); on SQLite
// commits of this process signal at once and other processes' commits are
// polled for.
func (s *Store) WatchEvents(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	s.eventSignals.add(ch)
	go func() {
		<-ctx.Done()
		s.eventSignals.remove(ch)
	}()
	if pg, ok := s.dialect.(postgres); ok {
		go listenForEvents(ctx, pg.dsn, ch)
	} else {
		go pollForEvents(ctx, ch)
	}
	return ch
}

func pollForEvents(ctx context.Context, ch chan struct{}) {
	tick := time.NewTicker(sqliteEventPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			wake(ch)
		}
	}
}

// listenForEvents keeps one LISTEN connection open, reconnecting after a
// second when it fails.
func listenForEvents(ctx context.Context, dsn string, ch chan struct{}) {
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-retry.C:
		}
		listenOnce(ctx, dsn, ch)
		retry.Reset(time.Second)
	}
}

// listenOnce listens until the connection fails or ctx ends.
func listenOnce(ctx context.Context, dsn string, ch chan struct{}) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+eventsChannel); err != nil {
		return
	}
	wake(ch) // whatever was committed while no one listened
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return
		}
		wake(ch)
	}
}
