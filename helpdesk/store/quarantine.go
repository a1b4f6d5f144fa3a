package store

import (
	"context"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// Quarantine adds a message that cannot be ingested to the batch.
func (b *IngestBatch) Quarantine(ctx context.Context, src helpdesk.MessageSource, raw []byte, size int64, complete bool, reason string) error {
	return quarantineTx(ctx, b.t, src, raw, size, complete, reason)
}

func quarantineTx(ctx context.Context, t *tx, src helpdesk.MessageSource, raw []byte, size int64, complete bool, reason string) error {
	if src.QuarantineID != 0 {
		return holdQuarantine(ctx, t, src.QuarantineID, reason)
	}
	if prior, err := priorLedger(ctx, t, src, ""); err != nil || prior.seen {
		return err
	}
	rawID, err := storeRaw(ctx, t, raw, nil)
	if err != nil {
		return err
	}
	at := now()
	t.collect(insertQuarantine, src.MailboxID, src.Folder, src.UIDValidity, src.UID, helpdesk.Truncate(reason, 2000),
		size, complete, rawID, "held", at, at)
	writeLedger(t, src, fmt.Sprintf("quarantine:%d:%d", src.UIDValidity, src.UID), helpdesk.OutcomeQuarantined, 0)
	return nil
}

func holdQuarantine(ctx context.Context, t *tx, id int64, reason string) error {
	_, err := t.exec(ctx, t.q().HoldQuarantine,
		helpdesk.Truncate(reason, 2000), now(), id)
	if err != nil {
		return fmt.Errorf("hold quarantined message %d: %w", id, err)
	}
	return nil
}

func resolveQuarantine(ctx context.Context, t *tx, id, threadID int64) error {
	if err := t.flush(ctx); err != nil { // the thread it points to
		return err
	}
	_, err := t.exec(ctx, t.q().ResolveQuarantine,
		threadID, now(), id)
	if err != nil {
		return fmt.Errorf("resolve quarantined message %d: %w", id, err)
	}
	return nil
}

// Quarantined lists held and retrying messages; mailboxID 0 means all.
func (s *Store) Quarantined(ctx context.Context, mailboxID int64) ([]helpdesk.QuarantinedMessage, error) {
	var qs []helpdesk.QuarantinedMessage
	err := s.fetchQ.Quarantined.SelectContext(ctx, &qs, mailboxID, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return qs, nil
}

// RetryQuarantined asks the fetch service to try a quarantined message
// again on the mailbox's next run.
func (s *Store) RetryQuarantined(ctx context.Context, id int64) error {
	res, err := s.fetchQ.RetryQuarantined.ExecContext(ctx, now(), id)
	if err != nil {
		return fmt.Errorf("retry quarantined message %d: %w", id, err)
	}
	return expectOneRow(res)
}
