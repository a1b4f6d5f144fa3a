// Package presence keeps who is looking at which conversation and who is
// writing a reply: entries that expire on their own unless renewed by the
// page's heartbeat. Board is in-process (the embedded mode) or on Redis,
// shared by every web instance.
package presence

import (
	"context"
	"sort"
	"sync"
	"time"
)

// DefaultTTL is how long an entry lives without a heartbeat. Pages beat
// every second, so a closed tab disappears within a few seconds.
const DefaultTTL = 5 * time.Second

// Entry is one agent on one conversation.
type Entry struct {
	UserID int64  `json:"user_id"`
	Name   string `json:"name"`
	Typing bool   `json:"typing"` // writing a reply
}

// Board records heartbeats and answers who is on a conversation.
type Board interface {
	// Beat records e on the conversation for the TTL and returns every
	// live entry of it, e included, ordered by name.
	Beat(ctx context.Context, convID int64, e Entry) ([]Entry, error)
	// Leave removes the user from the conversation at once.
	Leave(ctx context.Context, convID, userID int64) error
}

func sortEntries(es []Entry) {
	sort.Slice(es, func(i, j int) bool {
		if es[i].Name != es[j].Name {
			return es[i].Name < es[j].Name
		}
		return es[i].UserID < es[j].UserID
	})
}

// Local is the in-process Board.
type Local struct {
	ttl time.Duration
	mu  sync.Mutex
	// conversations maps a conversation to its users' entries and their
	// expiry.
	conversations map[int64]map[int64]localEntry
}

type localEntry struct {
	Entry
	until time.Time
}

// NewLocal returns an in-process board whose entries live ttl
// (DefaultTTL when 0).
func NewLocal(ttl time.Duration) *Local {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Local{ttl: ttl, conversations: map[int64]map[int64]localEntry{}}
}

// Beat implements Board.
func (l *Local) Beat(_ context.Context, convID int64, e Entry) ([]Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	users := l.conversations[convID]
	if users == nil {
		users = map[int64]localEntry{}
		l.conversations[convID] = users
	}
	users[e.UserID] = localEntry{Entry: e, until: now.Add(l.ttl)}
	out := make([]Entry, 0, len(users))
	for id, u := range users {
		if now.After(u.until) {
			delete(users, id)
			continue
		}
		out = append(out, u.Entry)
	}
	sortEntries(out)
	return out, nil
}

// Leave implements Board.
func (l *Local) Leave(_ context.Context, convID, userID int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conversations[convID], userID)
	if len(l.conversations[convID]) == 0 {
		delete(l.conversations, convID)
	}
	return nil
}
