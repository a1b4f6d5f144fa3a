package fetcher

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/semaphore"

	"github.com/helpdesk/helpdesk/fetcher/mailparse"
	"github.com/helpdesk/helpdesk/helpdesk"
	"github.com/helpdesk/helpdesk/helpdesk/store"
)

// Downloading, parsing and storing run as a pipeline: one goroutine reads
// bodies from the server, another parses them, and the fetch goroutine
// stores what is ready, all of it in one transaction (a group commit). With
// a fast server one commit covers many messages; with a slow one each
// message is committed as soon as it is parsed. No transaction waits on the
// network, and nothing is done on the server before the commit.
const (
	maxGroup      = 256      // messages per commit
	maxGroupBytes = 32 << 20 // raw bytes per commit
	// At most this many raw bytes (and their parsed copies) wait for the
	// store, however large the mails: memory stays bounded.
	maxAheadBytes = 64 << 20
)

// fetchedMessage is a downloaded message and what parsing made of it.
type fetchedMessage struct {
	src      helpdesk.MessageSource
	raw      []byte
	size     int64 // on the server
	msg      *helpdesk.IncomingMessage
	parseErr error
}

func (fm *fetchedMessage) parse() {
	fm.msg, fm.parseErr = mailparse.Parse(fm.raw)
	if fm.parseErr == nil {
		fm.msg.RawGzip = store.CompressRaw(fm.raw)
	}
}

// ingestBodies downloads, parses and stores the bodies of uids (those up
// to importUID as first import). It returns the UIDs whose messages are
// committed as new or duplicate (the after-fetch action applies to them),
// also when it fails part-way.
func (r *run) ingestBodies(ctx context.Context, folder Folder, importUID uint32, uids []uint32) ([]uint32, error) {
	downloaded := make(chan fetchedMessage, maxGroup)
	ready := make(chan fetchedMessage, maxGroup)
	ahead := semaphore.NewWeighted(maxAheadBytes)
	readCtx, stopReading := context.WithCancel(ctx)
	readErr := make(chan error, 1)
	storeEnded := make(chan struct{})
	go func() {
		defer close(downloaded)
		readErr <- r.s.Bodies(uids, func(uid uint32, raw []byte) error {
			if ahead.Acquire(readCtx, aheadWeight(raw)) != nil {
				return errStopped // the store side has ended
			}
			src := r.h.Source(folder.Name, folder.UIDValidity, uid)
			src.Import = uid <= importUID
			downloaded <- fetchedMessage{src: src, raw: raw, size: int64(len(raw))} // drained until closed
			return nil
		})
	}()
	go func() {
		defer close(ready)
		for fm := range downloaded {
			select {
			case <-storeEnded: // nothing more is stored: just drain
			default:
				fm.parse()
			}
			ready <- fm // the store side drains ready until it closes
		}
	}()
	stored, err := r.storeReady(ctx, ready, ahead)
	close(storeEnded)
	stopReading()
	for range ready { // unblock the parser and the reader
	}
	if rerr := <-readErr; err == nil && !errors.Is(rerr, errStopped) {
		err = rerr
	}
	return stored, err
}

// aheadWeight is what a message counts against maxAheadBytes; one larger
// than the budget takes all of it.
func aheadWeight(raw []byte) int64 { return min(int64(len(raw))+1, maxAheadBytes) }

// storeReady stores groups of parsed messages until ready is closed, the
// run is asked to stop (after committing the current group) or it fails.
func (r *run) storeReady(ctx context.Context, ready <-chan fetchedMessage, ahead *semaphore.Weighted) ([]uint32, error) {
	var stored []uint32
	for {
		group, more := nextGroup(ctx, ready)
		outcomes, err := r.storeGroup(ctx, group)
		for _, fm := range group {
			ahead.Release(aheadWeight(fm.raw))
		}
		for i, o := range outcomes {
			r.sum.add(o)
			if o != helpdesk.OutcomeQuarantined {
				stored = append(stored, group[i].src.UID)
			}
		}
		if err != nil {
			return stored, err
		}
		if !more {
			return stored, ctx.Err()
		}
		select {
		case <-r.stop:
			return stored, errStopped
		default:
		}
	}
}

// nextGroup waits for a message, then takes those already parsed behind it
// up to the group's limits. more is false once ready is closed or ctx ends.
func nextGroup(ctx context.Context, ready <-chan fetchedMessage) (group []fetchedMessage, more bool) {
	select {
	case fm, ok := <-ready:
		if !ok {
			return nil, false
		}
		group = append(group, fm)
	case <-ctx.Done():
		return nil, false
	}
	size := len(group[0].raw)
	for len(group) < maxGroup && size < maxGroupBytes {
		select {
		case fm, ok := <-ready:
			if !ok {
				return group, false
			}
			group = append(group, fm)
			size += len(fm.raw)
		default:
			return group, true
		}
	}
	return group, true
}

// storeGroup stores a group in one transaction. When that fails, it stores
// the messages again one per transaction, so that only a message that
// cannot be stored goes to quarantine and the others are kept. It returns
// the outcomes of the committed messages.
func (r *run) storeGroup(ctx context.Context, group []fetchedMessage) ([]helpdesk.Outcome, error) {
	if len(group) == 0 {
		return nil, nil
	}
	if len(group) > 1 {
		outcomes, err := r.storeTogether(ctx, group)
		if err == nil || mustStop(ctx, err) {
			return outcomes, err
		}
		r.log.Warn("storing a group of messages failed; storing them one by one", "messages", len(group), "err", err)
	}
	outcomes := make([]helpdesk.Outcome, 0, len(group))
	for _, fm := range group {
		o, err := r.storeAlone(ctx, fm)
		if err != nil {
			return outcomes, err
		}
		outcomes = append(outcomes, o)
	}
	return outcomes, nil
}

// storeAlone stores one message in its own transaction; one that cannot be
// parsed or stored goes to quarantine with its raw bytes, so it never
// blocks the next. Only errors that must end the run are returned (fenced,
// lease lost, database down).
func (r *run) storeAlone(ctx context.Context, fm fetchedMessage) (helpdesk.Outcome, error) {
	outcomes, err := r.storeTogether(ctx, []fetchedMessage{fm})
	if err == nil {
		return outcomes[0], nil
	}
	if mustStop(ctx, err) {
		return "", err
	}
	reason := fmt.Errorf("could not store: %w", err)
	if err := r.quarantine(ctx, fm, reason); err != nil {
		return "", err
	}
	return helpdesk.OutcomeQuarantined, nil
}

// storeTogether stores messages in one transaction; unparsable ones are
// quarantined in it. If that fails, storeAlone quarantines the message
// without showing it to agents.
func (r *run) storeTogether(ctx context.Context, group []fetchedMessage) ([]helpdesk.Outcome, error) {
	msgs := make([]*helpdesk.IncomingMessage, 0, len(group))
	for _, fm := range group {
		if fm.parseErr == nil {
			msgs = append(msgs, fm.msg)
		}
	}
	b, err := r.h.BeginIngest(ctx, msgs)
	if err != nil {
		return nil, err
	}
	defer b.Rollback()
	outcomes := make([]helpdesk.Outcome, 0, len(group))
	for _, fm := range group {
		if fm.parseErr != nil {
			// Agents see it too, as a conversation showing its raw text.
			reason := fmt.Errorf("could not parse: %w", fm.parseErr)
			if err := b.QuarantineUnparsable(ctx, fm.src, mailparse.Salvage(fm.raw), fm.size, reason.Error()); err != nil {
				return nil, err
			}
			outcomes = append(outcomes, helpdesk.OutcomeQuarantined)
			continue
		}
		res, err := b.Ingest(ctx, fm.src, fm.msg)
		if err != nil {
			return nil, err
		}
		outcomes = append(outcomes, res.Outcome)
	}
	if err := b.Commit(ctx); err != nil {
		return nil, err
	}
	for i, o := range outcomes {
		if o == helpdesk.OutcomeQuarantined {
			r.log.Warn("quarantined message", "mailbox", r.m.ID, "folder", group[i].src.Folder, "uid", group[i].src.UID, "reason", group[i].parseErr)
		}
		r.cfg.Metrics.countMessages(o, 1)
	}
	return outcomes, nil
}

func (r *run) quarantine(ctx context.Context, fm fetchedMessage, reason error) error {
	r.log.Warn("quarantining message", "mailbox", fm.src.MailboxID, "folder", fm.src.Folder, "uid", fm.src.UID, "reason", reason)
	if err := r.h.Quarantine(ctx, fm.src, fm.raw, fm.size, true, reason.Error()); err != nil {
		return err
	}
	r.cfg.Metrics.countMessages(helpdesk.OutcomeQuarantined, 1)
	return nil
}

// mustStop tells errors that end the run from those of one message. On
// database trouble the run ends and the next one fetches the message
// again: quarantine is for messages that are the cause.
func mustStop(ctx context.Context, err error) bool {
	return errors.Is(err, helpdesk.ErrFenced) || ctx.Err() != nil || store.IsDatabaseTrouble(err)
}
