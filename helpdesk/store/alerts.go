package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// UpdateFetchAlert is called by the fetch service after every run of a
// mailbox with its consecutive-failure count (MailboxFailures). The first
// time it reaches FetchAlertAfter, admins get one "fetching is failing"
// mail; the first run that succeeds after that (failures 0) sends one
// "recovered" mail. mailboxes.fetch_alert_sent flips in the same
// transaction as the enqueue and only one caller can flip it, so runs in
// between, two fetchers reporting at once, or a report repeated after a
// crash send nothing more. A mailbox that must be reconnected sends no
// "failing" mail: MarkNeedsReconnect sent the one that says what to do. Each failing episode has its number in the
// dedup keys: alert:failing:<mailbox>:<episode>, alert:recovered:<mailbox>:<episode>.
func (s *Store) UpdateFetchAlert(ctx context.Context, mailboxID int64, failures int) error {
	failing := failures >= helpdesk.FetchAlertAfter
	if failures > 0 && !failing {
		return nil
	}
	err := s.inTx(ctx, func(t *tx) error {
		if failing {
			// A mailbox that must be reconnected had its own alert
			// (MarkNeedsReconnect); its failing runs send no second one.
			var waiting int
			if err := t.get(ctx, &waiting, s.oauthQ.NeedsReconnect, mailboxID, true); err != nil || waiting > 0 {
				return err
			}
		}
		// The conditional UPDATE is the decision: the row lock (PostgreSQL)
		// or the write lock (SQLite) lets one caller flip the flag.
		res, err := t.exec(ctx, t.q().FlipFetchAlert,
			failing, mailboxID, !failing)
		if err != nil {
			return fmt.Errorf("flip fetch alert: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return enqueueFetchAlert(ctx, t, mailboxID, failing, failures)
	})
	if err != nil {
		return fmt.Errorf("update fetch alert of mailbox %d: %w", mailboxID, err)
	}
	return nil
}

func enqueueFetchAlert(ctx context.Context, t *tx, mailboxID int64, failing bool, failures int) error {
	var mb mailboxInfo
	if err := t.get(ctx, &mb, t.q().MailboxInfo, mailboxID); err != nil {
		return fmt.Errorf("read mailbox: %w", err)
	}
	// Episodes are counted by the failing alerts enqueued so far; the flag
	// flip above serialises their enqueueing.
	var episode int
	if err := t.get(ctx, &episode, t.q().CountOutboxByKeyPattern,
		fmt.Sprintf("alert:failing:%d:%%", mailboxID)); err != nil {
		return fmt.Errorf("count fetch alert episodes: %w", err)
	}
	to, err := adminRecipients(ctx, t)
	if err != nil || len(to) == 0 {
		return err
	}
	name := helpdesk.OneLine(mb.Name, 200)
	m := helpdesk.OutboundMail{
		Kind:      "alert",
		MailboxID: mailboxID,
		From:      mb.Email,
		To:        to,
		Headers:   t.store.signer.AutomaticHeaders("auto-generated", mb.Email),
	}
	if failing {
		episode++
		var lastError string
		err := t.get(ctx, &lastError, t.q().LastFetchError, mailboxID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read last fetch error: %w", err)
		}
		m.DedupKey = fmt.Sprintf("alert:failing:%d:%d", mailboxID, episode)
		m.Subject = fmt.Sprintf("Fetching mail for %s (%s) is failing", name, mb.Email)
		m.BodyText = fmt.Sprintf("The last %d runs fetching mail for mailbox %q (%s) failed.\n\nLast error: %s\n\n"+
			"Mail to this address is not reaching the helpdesk until this is fixed. The status page shows details.\n"+
			"You will get one more mail when fetching works again.\n%s", failures, name, mb.Email, helpdesk.Truncate(lastError, 2000),
			t.store.pageLink("/admin/status"))
	} else {
		m.DedupKey = fmt.Sprintf("alert:recovered:%d:%d", mailboxID, episode)
		m.Subject = fmt.Sprintf("Fetching mail for %s (%s) works again", name, mb.Email)
		m.BodyText = fmt.Sprintf("Fetching mail for mailbox %q (%s) succeeded again.\n", name, mb.Email)
	}
	m.Subject = helpdesk.OneLine(m.Subject, 900)
	_, err = enqueueTx(ctx, t, m)
	return err
}
