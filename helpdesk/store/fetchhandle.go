package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// FetchHandle is a fetch run's way into the store: one mailbox under one
// fence. A run opens it once, after it claimed the fence (ClaimFence), and
// makes every write through it: run start and finish, progress, duplicates,
// results, ingest and quarantine. Each write is still its own fetch
// transaction that checks the fence first (fetchtx.go), so a handle whose
// fence was overtaken writes nothing and gets ErrFenced.
type FetchHandle struct {
	s         *Store
	mailboxID int64
	fence     int64
}

// FetchHandle opens the handle of a run over mailboxID under fence.
func (s *Store) FetchHandle(mailboxID, fence int64) *FetchHandle {
	return &FetchHandle{s: s, mailboxID: mailboxID, fence: fence}
}

// MailboxID is the handle's mailbox.
func (h *FetchHandle) MailboxID() int64 { return h.mailboxID }

// Source is where a message of the handle's run was found.
func (h *FetchHandle) Source(folder string, uidvalidity, uid uint32) helpdesk.MessageSource {
	return helpdesk.MessageSource{MailboxID: h.mailboxID, Folder: folder, UIDValidity: uidvalidity, UID: uid, Fence: h.fence}
}

// in runs fn in one fetch transaction of the handle.
func (h *FetchHandle) in(ctx context.Context, fn func(t *tx) error) error {
	return h.s.inFetchTx(ctx, h.mailboxID, h.fence, fn)
}

// StartRun records the start of a run and forgets the mailbox's runs older
// than the newest KeptRuns.
func (h *FetchHandle) StartRun(ctx context.Context, trigger, holder string) (int64, error) {
	var id int64
	err := h.in(ctx, func(t *tx) error {
		err := t.get(ctx, &id, t.q().StartRun, h.mailboxID, trigger, h.fence, holder, now())
		if err != nil {
			return err
		}
		_, err = t.exec(ctx, t.q().PruneRuns, h.mailboxID, h.mailboxID, helpdesk.KeptRuns-1)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("start fetch run: %w", err)
	}
	return id, nil
}

// FinishRun records a run's counts and error and clears its progress (a
// holder that lost its lease leaves its run unfinished, which the status
// page shows).
func (h *FetchHandle) FinishRun(ctx context.Context, run helpdesk.FetchRun) error {
	return h.in(ctx, func(t *tx) error {
		_, err := t.exec(ctx, t.q().FinishRun,
			now(), run.New, run.Duplicates, run.Quarantined, helpdesk.Truncate(run.Error, 2000), run.ID)
		if err != nil {
			return fmt.Errorf("finish fetch run %d: %w", run.ID, err)
		}
		if _, err := t.exec(ctx, t.q().ClearRunProgress, h.mailboxID); err != nil {
			return fmt.Errorf("clear progress of fetch run %d: %w", run.ID, err)
		}
		return nil
	})
}

// SaveRunProgress records how far the run has got through a folder (its
// Folder, Done, Total, StartedAt and UpdatedAt), in place of what it
// recorded before.
func (h *FetchHandle) SaveRunProgress(ctx context.Context, p helpdesk.RunProgress) error {
	return h.in(ctx, func(t *tx) error {
		_, err := t.exec(ctx, t.q().SaveRunProgress, h.mailboxID, h.fence, p.Folder, p.Done, p.Total,
			p.StartedAt.UTC(), p.UpdatedAt.UTC())
		if err != nil {
			return fmt.Errorf("save run progress: %w", err)
		}
		return nil
	})
}

// State returns where fetching of a folder stands; a folder never fetched
// has a zero state.
func (h *FetchHandle) State(ctx context.Context, folder string) (helpdesk.FetchState, error) {
	st := helpdesk.FetchState{MailboxID: h.mailboxID, Folder: folder}
	err := h.s.fetchQ.FetchState.GetContext(ctx, &st, h.mailboxID, folder)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read fetch state of mailbox %d folder %q: %w", h.mailboxID, folder, err)
	}
	return st, nil
}

// SaveProgress records that every UID up to lastUID under uidvalidity has
// been dealt with (stored, found duplicate or quarantined).
func (h *FetchHandle) SaveProgress(ctx context.Context, folder string, uidvalidity, lastUID uint32) error {
	return h.in(ctx, func(t *tx) error {
		_, err := t.exec(ctx, t.q().SaveFetchProgress, h.mailboxID, folder, uidvalidity, lastUID, h.fence)
		if err != nil {
			return fmt.Errorf("save fetch progress: %w", err)
		}
		return nil
	})
}

// StartFolder records a folder selected for the first time under
// uidvalidity: nothing of it fetched yet, and UIDs up to importUID (what
// it held then) are its first import.
func (h *FetchHandle) StartFolder(ctx context.Context, folder string, uidvalidity, importUID uint32) error {
	return h.in(ctx, func(t *tx) error {
		_, err := t.exec(ctx, t.q().StartFetchFolder, h.mailboxID, folder, uidvalidity, importUID, h.fence)
		if err != nil {
			return fmt.Errorf("start fetching folder: %w", err)
		}
		return nil
	})
}

// RecordResult notes the end of a run over a folder: success resets the
// failure count, an error increments it.
func (h *FetchHandle) RecordResult(ctx context.Context, folder string, runErr error) error {
	at := now()
	return h.in(ctx, func(t *tx) error {
		var err error
		if runErr == nil {
			_, err = t.exec(ctx, t.q().RecordFetchSuccess, h.mailboxID, folder, h.fence, at, at)
		} else {
			_, err = t.exec(ctx, t.q().RecordFetchFailure, h.mailboxID, folder, h.fence, at, helpdesk.Truncate(runErr.Error(), 2000))
		}
		if err != nil {
			return fmt.Errorf("record fetch result: %w", err)
		}
		return nil
	})
}

// SeenUIDs returns what became of those of these UIDs the ledger has: the
// header-only phase, which decides which bodies are worth downloading.
func (h *FetchHandle) SeenUIDs(ctx context.Context, folder string, uidvalidity uint32, uids []uint32) (map[uint32]helpdesk.Outcome, error) {
	seen := map[uint32]helpdesk.Outcome{}
	if len(uids) == 0 {
		return seen, nil
	}
	list, err := h.s.dialect.listArg(uids)
	if err != nil {
		return nil, err
	}
	var found []struct {
		UID     uint32           `db:"uid"`
		Outcome helpdesk.Outcome `db:"outcome"`
	}
	if err := h.s.fetchQ.SeenUIDs.SelectContext(ctx, &found, h.mailboxID, folder, uidvalidity, list); err != nil {
		return nil, fmt.Errorf("look up seen UIDs: %w", err)
	}
	for _, f := range found {
		seen[f.UID] = f.Outcome
	}
	return seen, nil
}

// StoredDedupKeys returns which of these dedup keys already have a stored
// message in the mailbox.
func (h *FetchHandle) StoredDedupKeys(ctx context.Context, keys []string) (map[string]bool, error) {
	stored := map[string]bool{}
	if len(keys) == 0 {
		return stored, nil
	}
	list, err := h.s.dialect.listArg(keys)
	if err != nil {
		return nil, err
	}
	var found []string
	if err := h.s.fetchQ.StoredDedupKeys.SelectContext(ctx, &found, h.mailboxID, list); err != nil {
		return nil, fmt.Errorf("look up dedup keys: %w", err)
	}
	for _, k := range found {
		stored[k] = true
	}
	return stored, nil
}

// RecordDuplicates writes ledger rows for messages found to be copies of
// stored ones, in one transaction.
func (h *FetchHandle) RecordDuplicates(ctx context.Context, folder string, uidvalidity uint32, dups []helpdesk.Duplicate) error {
	if len(dups) == 0 {
		return nil
	}
	return h.in(ctx, func(t *tx) error {
		for _, d := range dups {
			src := h.Source(folder, uidvalidity, d.UID)
			prior, err := priorLedger(ctx, t, src, d.DedupKey)
			if err != nil {
				return err
			}
			if prior.seen {
				continue
			}
			writeLedger(t, src, d.DedupKey, helpdesk.OutcomeDuplicate, prior.storedThread)
		}
		return nil
	})
}

// BeginIngest starts a batch of the handle's run that will ingest msgs;
// ErrFenced when a newer fetch has claimed the mailbox. It upserts their
// customers first, in one order (upsertCustomers), so that batches of
// several fetchers that share customers cannot deadlock; a message whose
// customer was not among msgs has it upserted when it is ingested.
func (h *FetchHandle) BeginIngest(ctx context.Context, msgs []*helpdesk.IncomingMessage) (*IngestBatch, error) {
	t, err := h.s.beginFetchTx(ctx, h.mailboxID, h.fence)
	if err != nil {
		return nil, err
	}
	if err := upsertCustomers(ctx, t, msgs); err != nil {
		t.rollback()
		return nil, err
	}
	return &IngestBatch{t: t, fence: h.fence}, nil
}

// Ingest stores one customer message in its own batch. Ingesting the same
// message again, under the same UID or another one, is a no-op that
// reports a duplicate.
func (h *FetchHandle) Ingest(ctx context.Context, src helpdesk.MessageSource, msg *helpdesk.IncomingMessage) (helpdesk.IngestResult, error) {
	b, err := h.BeginIngest(ctx, []*helpdesk.IncomingMessage{msg})
	if err != nil {
		return helpdesk.IngestResult{}, fmt.Errorf("ingest %s: %w", src, err)
	}
	defer b.Rollback()
	res, err := b.Ingest(ctx, src, msg)
	if err != nil {
		return helpdesk.IngestResult{}, err
	}
	return res, b.Commit(ctx)
}

// Quarantine keeps a message that cannot be ingested, with the reason, and
// records it in the ledger so later runs move past it. size is the size on
// the server; raw holds all of it when complete, else just its header.
func (h *FetchHandle) Quarantine(ctx context.Context, src helpdesk.MessageSource, raw []byte, size int64, complete bool, reason string) error {
	return h.in(ctx, func(t *tx) error {
		return quarantineTx(ctx, t, src, raw, size, complete, reason, nil)
	})
}

// QuarantinedForRetry lists the mailbox's messages an admin asked to retry.
func (h *FetchHandle) QuarantinedForRetry(ctx context.Context) ([]helpdesk.QuarantinedMessage, error) {
	var qs []helpdesk.QuarantinedMessage
	if err := h.s.fetchQ.QuarantinedForRetry.SelectContext(ctx, &qs, h.mailboxID); err != nil {
		return nil, fmt.Errorf("list quarantine retries: %w", err)
	}
	return qs, nil
}
