package fetcher

import (
	"context"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// retryQuarantined tries again the quarantined messages an admin asked to
// retry: from the stored bytes, or downloaded whole when only the header
// was kept.
func (r *run) retryQuarantined(ctx context.Context) error {
	qs, err := r.h.QuarantinedForRetry(ctx)
	if err != nil {
		return err
	}
	for _, q := range qs {
		src := r.h.Source(q.Folder, q.UIDValidity, q.UID)
		src.QuarantineID = q.ID
		if src.Import, err = r.isImport(ctx, src); err != nil {
			return err
		}
		raw, err := r.quarantinedBytes(ctx, q)
		if err != nil {
			if qerr := r.h.Quarantine(ctx, src, nil, q.Size, false, "retry failed: "+err.Error()); qerr != nil {
				return qerr
			}
			continue
		}
		fm := fetchedMessage{src: src, raw: raw, size: q.Size}
		fm.parse()
		outcome, err := r.storeAlone(ctx, fm)
		if err != nil {
			return err
		}
		if outcome == helpdesk.OutcomeNew {
			r.sum.New++
		}
	}
	return nil
}

// isImport tells whether a message of an earlier run (a quarantined one
// retried) belongs to its folder's first import.
func (r *run) isImport(ctx context.Context, src helpdesk.MessageSource) (bool, error) {
	st, err := r.h.State(ctx, src.Folder)
	return err == nil && st.UIDValidity == src.UIDValidity && src.UID <= st.ImportUID, err
}

func (r *run) quarantinedBytes(ctx context.Context, q helpdesk.QuarantinedMessage) ([]byte, error) {
	if q.RawComplete {
		return r.store.RawMessage(ctx, q.RawID)
	}
	folder, err := r.s.Select(q.Folder)
	if err != nil {
		return nil, err
	}
	if folder.UIDValidity != q.UIDValidity {
		return nil, fmt.Errorf("folder %q was recreated (UIDVALIDITY %d, was %d): the message is fetched again under its new UID", q.Folder, folder.UIDValidity, q.UIDValidity)
	}
	var raw []byte
	err = r.s.Bodies([]uint32{q.UID}, func(_ uint32, b []byte) error { raw = b; return nil })
	if err == nil && raw == nil {
		err = fmt.Errorf("uid %d is no longer in folder %q", q.UID, q.Folder)
	}
	return raw, err
}
