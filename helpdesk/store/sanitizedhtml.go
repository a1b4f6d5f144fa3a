package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// ThreadHTML returns the HTML body of one of the viewer's threads as it
// arrived: unsanitised, for the web's sanitiser and for download only.
func (s *Store) ThreadHTML(ctx context.Context, v helpdesk.Viewer, threadID int64) (string, error) {
	var body string
	err := s.convQ.ThreadHTML.GetContext(ctx, &body, append([]any{threadID}, viewerArgs(v)...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("thread %d: %w", threadID, helpdesk.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("get HTML of thread %d: %w", threadID, err)
	}
	return body, nil
}

// SanitizedHTML returns the kept sanitised HTML of some of the viewer's
// threads, by thread, for one view and sanitiser version. Threads without
// it are missing from the map.
func (s *Store) SanitizedHTML(ctx context.Context, v helpdesk.Viewer, threadIDs []int64, remoteImages bool, policy int) (map[int64]helpdesk.SanitizedHTML, error) {
	byThread := make(map[int64]helpdesk.SanitizedHTML, len(threadIDs))
	if len(threadIDs) == 0 {
		return byThread, nil
	}
	list, err := s.dialect.listArg(threadIDs)
	if err != nil {
		return nil, fmt.Errorf("get sanitised HTML: %w", err)
	}
	var rows []helpdesk.SanitizedHTML
	if err := s.convQ.SanitizedHTML.SelectContext(ctx, &rows, append([]any{list, remoteImages, policy}, viewerArgs(v)...)...); err != nil {
		return nil, fmt.Errorf("get sanitised HTML of threads %v: %w", threadIDs, err)
	}
	for _, r := range rows {
		byThread[r.ThreadID] = r
	}
	return byThread, nil
}

// SaveSanitizedHTML keeps what the sanitiser made of a thread, replacing
// what it made for the same view before.
func (s *Store) SaveSanitizedHTML(ctx context.Context, h helpdesk.SanitizedHTML) error {
	if _, err := s.convQ.SaveSanitizedHTML.ExecContext(ctx, h.ThreadID, h.RemoteImages, h.Policy, h.HTML, h.Blocked); err != nil {
		return fmt.Errorf("save sanitised HTML of thread %d: %w", h.ThreadID, err)
	}
	return nil
}
