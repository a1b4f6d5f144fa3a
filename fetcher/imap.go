// Package fetcher gets mail in: IMAP sessions, UID/UIDVALIDITY tracking,
// the per-mailbox fetch run and the service that schedules runs under a
// lease. Package mailparse beneath it turns the raw messages into
// helpdesk.IncomingMessage values.
package fetcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/helpdesk/helpdesk/fetcher/mailparse"
	"github.com/helpdesk/helpdesk/helpdesk"
)

// Session is one logged-in IMAP connection to a mailbox's account. A
// cancelled context closes the connection at once: go-imap has no other way
// to abort a command, and a fetch that lost its lease must stop now.
type Session struct {
	c        *imapclient.Client
	stop     func() bool
	newMail  chan struct{} // signalled when the server reports EXISTS
	selected string
	// selects is each folder as its latest SELECT in this session saw it:
	// what Changed compares with.
	selects map[string]Folder
}

// Close logs out politely when it can and closes the connection.
func (s *Session) Close() {
	s.stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.c.Logout().Wait()
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	s.c.Close()
}

// Closed is closed when the connection is gone.
func (s *Session) Closed() <-chan struct{} { return s.c.Closed() }

func (s *Session) signalNewMail() {
	select {
	case s.newMail <- struct{}{}:
	default:
	}
}

// Folder is a selected folder's identity and size.
type Folder struct {
	Name        string
	UIDValidity uint32
	UIDNext     uint32
	Messages    uint32
}

// Select opens a folder read-write (flags and moves need it).
func (s *Session) Select(name string) (Folder, error) {
	data, err := s.c.Select(name, nil).Wait()
	if err != nil {
		return Folder{}, fmt.Errorf("select %q: %w", name, serverAnswer(err))
	}
	s.selected = name
	folder := Folder{Name: name, UIDValidity: data.UIDValidity, UIDNext: uint32(data.UIDNext), Messages: data.NumMessages}
	s.selects[name] = folder
	return folder, nil
}

// Changed tells whether any of these folders may hold mail that its
// latest SELECT in this session did not see: its UIDVALIDITY or UIDNEXT
// differ now (STATUS, which leaves the selected folder as it is), or it
// was not selected yet.
func (s *Session) Changed(folders []string) (bool, error) {
	for _, name := range folders {
		seen, ok := s.selects[name]
		if !ok {
			return true, nil
		}
		data, err := s.c.Status(name, &imap.StatusOptions{UIDNext: true, UIDValidity: true}).Wait()
		if err != nil {
			return false, fmt.Errorf("status %q: %w", name, serverAnswer(err))
		}
		if data.UIDValidity != seen.UIDValidity || uint32(data.UIDNext) != seen.UIDNext {
			return true, nil
		}
	}
	return false, nil
}

// UIDsAfter lists the folder's UIDs above last (and, for a first import,
// of mail received since the given day), ascending.
func (s *Session) UIDsAfter(last uint32, since *time.Time) ([]uint32, error) {
	var set imap.UIDSet
	set.AddRange(imap.UID(last+1), 0) // last+1:*
	criteria := &imap.SearchCriteria{UID: []imap.UIDSet{set}}
	if since != nil {
		criteria.Since = *since
	}
	data, err := s.c.UIDSearch(criteria, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("search UIDs after %d: %w", last, serverAnswer(err))
	}
	var uids []uint32
	for _, u := range data.AllUIDs() {
		// "n:*" always matches the last message, even below n.
		if uint32(u) > last {
			uids = append(uids, uint32(u))
		}
	}
	sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
	return uids, nil
}

// Envelope is what the header-only phase learns about a message.
type Envelope struct {
	UID      uint32
	Size     int64
	DedupKey string // "" when the key needs the body (no Message-ID)
}

// Envelopes fetches UID, size and the dedup header fields of these UIDs,
// without downloading bodies or setting \Seen.
func (s *Session) Envelopes(uids []uint32) ([]Envelope, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: helpdesk.DedupHeaders, Peek: true}
	cmd := s.c.Fetch(uidSet(uids), &imap.FetchOptions{UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{section}})
	envs := make([]Envelope, 0, len(uids))
	err := eachMessage("fetch headers", cmd, func(m *imapclient.FetchMessageBuffer) error {
		envs = append(envs, Envelope{UID: uint32(m.UID), Size: m.RFC822Size, DedupKey: mailparse.HeaderDedupKey(m.FindBodySection(section))})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(envs, func(i, j int) bool { return envs[i].UID < envs[j].UID })
	return envs, nil
}

// Header downloads just the header of one message (for quarantining one
// too large to download).
func (s *Session) Header(uid uint32) ([]byte, error) {
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	cmd := s.c.Fetch(uidSet([]uint32{uid}), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
	var header []byte
	err := eachMessage(fmt.Sprintf("fetch header of uid %d", uid), cmd, func(m *imapclient.FetchMessageBuffer) error {
		if m.UID == imap.UID(uid) {
			header = m.FindBodySection(section)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if header == nil {
		return nil, fmt.Errorf("uid %d is gone from the folder", uid)
	}
	return header, nil
}

// Bodies streams BODY.PEEK[] of these UIDs to fn, one message at a time, in
// the order the server sends them. fn's error stops the stream.
func (s *Session) Bodies(uids []uint32, fn func(uid uint32, raw []byte) error) error {
	if len(uids) == 0 {
		return nil // an empty UID set is a protocol error
	}
	section := &imap.FetchItemBodySection{Peek: true}
	cmd := s.c.Fetch(uidSet(uids), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
	return eachMessage("fetch bodies", cmd, func(m *imapclient.FetchMessageBuffer) error {
		raw := m.FindBodySection(section)
		if m.UID == 0 || raw == nil {
			return nil // a FETCH response for flags only, e.g. set by another client
		}
		return fn(uint32(m.UID), raw)
	})
}

// eachMessage reads a FETCH's responses one message at a time into memory
// and hands each to fn; fn's error stops it and is returned as it is.
// Unlike go-imap's Collect, it does not drain the command after a literal
// failed to read (the connection was closed when the lease was lost, say):
// draining would read that literal again while go-imap's reader goroutine
// decodes past it, a data race. The connection is broken anyway; the
// caller closes the session. what names the command in errors.
func eachMessage(what string, cmd *imapclient.FetchCommand, fn func(*imapclient.FetchMessageBuffer) error) error {
	err := readMessages(cmd, fn)
	if errors.As(err, new(*literalError)) {
		return fmt.Errorf("%s: %w", what, err)
	}
	if cerr := cmd.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("%s: %w", what, serverAnswer(cerr))
	}
	return err
}

// literalError is a literal (a message body, say) that could not be read
// to its end.
type literalError struct{ err error }

func (e *literalError) Error() string { return "read literal: " + e.err.Error() }
func (e *literalError) Unwrap() error { return e.err }

func readMessages(cmd *imapclient.FetchCommand, fn func(*imapclient.FetchMessageBuffer) error) error {
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		buf := &imapclient.FetchMessageBuffer{SeqNum: msg.SeqNum}
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch item := item.(type) {
			case imapclient.FetchItemDataUID:
				buf.UID = item.UID
			case imapclient.FetchItemDataRFC822Size:
				buf.RFC822Size = item.Size
			case imapclient.FetchItemDataBodySection:
				if item.Literal == nil {
					continue // NIL: the section does not exist
				}
				b, err := readLiteral(item.Literal)
				if err != nil {
					return &literalError{err}
				}
				buf.BodySection = append(buf.BodySection, imapclient.FetchBodySectionBuffer{Section: item.Section, Bytes: b})
			}
		}
		if err := fn(buf); err != nil {
			return err
		}
	}
	return nil
}

// readLiteral reads a body in one allocation of the size the server
// announced (capped: the announcement is the server's word, and the
// header phase already kept oversized mail out). The buffer is made, not
// grown: Buffer.Grow copies a zeroed slice of that size, which under the
// race detector cannot be preempted and, for a mail of 20 MB, held up
// every goroutine (a lease's heartbeat too) for a good part of a second.
func readLiteral(lit imap.LiteralReader) ([]byte, error) {
	const maxPrealloc = 64 << 20
	buf := bytes.NewBuffer(make([]byte, 0, min(max(lit.Size(), 0), maxPrealloc)+bytes.MinRead))
	_, err := buf.ReadFrom(lit)
	return buf.Bytes(), err
}

// MarkSeen sets \Seen on messages already committed.
func (s *Session) MarkSeen(uids []uint32) error {
	if len(uids) == 0 {
		return nil
	}
	err := s.c.Store(uidSet(uids), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
	if err != nil {
		return fmt.Errorf("mark seen: %w", serverAnswer(err))
	}
	return nil
}

// Move moves messages already committed to another folder.
func (s *Session) Move(uids []uint32, folder string) error {
	if len(uids) == 0 {
		return nil
	}
	if _, err := s.c.Move(uidSet(uids), folder).Wait(); err != nil {
		return fmt.Errorf("move to %q: %w", folder, serverAnswer(err))
	}
	return nil
}

// CanIdle reports IDLE support.
func (s *Session) CanIdle() bool { return s.c.Caps().Has(imap.CapIdle) }

// Why an IDLE ended.
const (
	IdleNewMail = "idle"     // the server reported new mail
	IdleWoken   = "manual"   // wake was signalled (a fetch request)
	IdleTimeout = "schedule" // max passed: the interval's scheduled run is due
	IdleStopped = "stopped"  // ctx ended or the connection dropped
)

// Idle waits in IDLE on the selected folder until the server reports new
// mail, max passes, wake is signalled, ctx ends or the connection drops,
// and says which (IdleNewMail, IdleWoken, IdleTimeout or IdleStopped).
func (s *Session) Idle(ctx context.Context, max time.Duration, wake <-chan struct{}) (string, error) {
	// Mail reported before IDLE began still counts.
	select {
	case <-s.newMail:
		return IdleNewMail, nil
	default:
	}
	idle, err := s.c.Idle()
	if err != nil {
		return "", fmt.Errorf("start IDLE: %w", serverAnswer(err))
	}
	timer := time.NewTimer(max)
	defer timer.Stop()
	var why string
	select {
	case <-s.newMail:
		why = IdleNewMail
	case <-wake:
		why = IdleWoken
	case <-timer.C:
		why = IdleTimeout
	case <-ctx.Done():
		why = IdleStopped
	case <-s.c.Closed():
		why = IdleStopped
	}
	if err := idle.Close(); err != nil {
		return why, fmt.Errorf("stop IDLE: %w", err)
	}
	if err := idle.Wait(); err != nil {
		return why, fmt.Errorf("IDLE: %w", serverAnswer(err))
	}
	return why, nil
}

func uidSet(uids []uint32) imap.UIDSet {
	var set imap.UIDSet
	for _, u := range uids {
		set.AddNum(imap.UID(u))
	}
	return set
}

// TestConnection runs the fetcher's own sign-in (token refresh included),
// dial, login and select of every folder: what "Test connection" on the
// admin page shows, saying which step failed, with the server's or the
// provider's exact answer.
func (f *Fetcher) TestConnection(ctx context.Context, m *helpdesk.Mailbox) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := f.dial(ctx, m)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, f := range m.Folders {
		if _, err := s.Select(f); err != nil {
			return err
		}
	}
	return nil
}
