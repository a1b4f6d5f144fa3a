package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/helpdesk/helpdesk/helpdesk"
)

// The life of an outbox row: pending -> (claimed with a lease by one
// notifier's claim, renewed while the claim sends it) -> sent | pending
// again with a later next_attempt_at | failed. Every write of a claim is
// fenced by its lease owner, unique to the claim: once a lease ran out and
// another claim took the row, the first can neither renew nor settle it.
// A lease runs out only when its notifier stops renewing (it died, or lost
// the database); the resend then carries the same Message-ID, so the one
// case where a mail can arrive twice (the server accepted DATA but its 250
// never reached us, or we died before recording it) is recognisable by
// the receiver.

// outboxRow is the row as scanned; nullable ids and the flat header text.
type outboxRow struct {
	ID            int64         `db:"id"`
	DedupKey      string        `db:"dedup_key"`
	Kind          string        `db:"kind"`
	MailboxID     sql.NullInt64 `db:"mailbox_id"`
	ThreadID      sql.NullInt64 `db:"thread_id"`
	From          string        `db:"from_addr"`
	To            string        `db:"to_addrs"`
	Cc            string        `db:"cc_addrs"`
	Bcc           string        `db:"bcc_addrs"`
	Subject       string        `db:"subject"`
	BodyText      string        `db:"body_text"`
	BodyHTML      string        `db:"body_html"`
	Attachments   int           `db:"attachment_count"`
	Headers       string        `db:"headers"`
	MessageID     string        `db:"message_id"`
	Status        string        `db:"status"`
	Attempts      int           `db:"attempts"`
	NextAttemptAt time.Time     `db:"next_attempt_at"`
	LeaseOwner    string        `db:"lease_owner"`
	LeaseUntil    *time.Time    `db:"lease_until"`
	LastError     string        `db:"last_error"`
	CreatedAt     time.Time     `db:"created_at"`
	SentAt        *time.Time    `db:"sent_at"`
	FailedAt      *time.Time    `db:"failed_at"`
}

func (r outboxRow) message() helpdesk.OutboxMessage {
	return helpdesk.OutboxMessage{
		ID: r.ID,
		OutboundMail: helpdesk.OutboundMail{
			DedupKey: r.DedupKey, Kind: r.Kind, MailboxID: r.MailboxID.Int64, ThreadID: r.ThreadID.Int64,
			From: r.From, To: splitAddresses(r.To), Cc: splitAddresses(r.Cc), Bcc: splitAddresses(r.Bcc),
			Subject: r.Subject, BodyText: r.BodyText, BodyHTML: r.BodyHTML, Headers: decodeHeaders(r.Headers),
		},
		MessageID: r.MessageID, Status: r.Status, Attempts: r.Attempts, NextAttemptAt: r.NextAttemptAt,
		LeaseOwner: r.LeaseOwner, LeaseUntil: r.LeaseUntil, LastError: r.LastError, AttachmentCount: r.Attachments, CreatedAt: r.CreatedAt, SentAt: r.SentAt,
		FailedAt: r.FailedAt,
	}
}

// splitAddresses reads a stored "a@x, b@y" list.
func splitAddresses(s string) []string {
	var list []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			list = append(list, a)
		}
	}
	return list
}

func messages(rows []outboxRow) []helpdesk.OutboxMessage {
	out := make([]helpdesk.OutboxMessage, len(rows))
	for i, r := range rows {
		out[i] = r.message()
	}
	return out
}

// decodeHeaders reverses encodeHeaders.
func decodeHeaders(s string) map[string]string {
	h := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && k != "" {
			h[k] = v
		}
	}
	return h
}

// ClaimOutbox leases up to limit due pending rows to owner for leaseFor and
// counts the attempt. Rows leased by someone else are skipped, and
// concurrent claimers never get the same row (how, on each database, the
// query text of claim-outbox says); a row whose lease ran out is claimable
// again.
func (s *Store) ClaimOutbox(ctx context.Context, owner string, limit int, leaseFor time.Duration) ([]helpdesk.OutboxMessage, error) {
	if owner == "" || limit <= 0 || leaseFor <= 0 {
		return nil, errors.New("claim outbox: owner, limit and lease are required")
	}
	t := now()
	var rows []outboxRow
	err := s.outboxQ.ClaimOutbox.SelectContext(ctx, &rows, owner, t.Add(leaseFor), t, t, limit)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	return messages(rows), nil
}

// RenewOutboxClaim extends the lease of the rows ids that owner still
// holds to until and returns their ids. A row missing from the answer is
// lost to the claim: settled already, its lease ran out, or another claim
// took it.
func (s *Store) RenewOutboxClaim(ctx context.Context, owner string, ids []int64, until time.Time) ([]int64, error) {
	list, err := s.dialect.listArg(ids)
	if err != nil {
		return nil, err
	}
	var renewed []int64
	if err := s.outboxQ.RenewOutboxClaim.SelectContext(ctx, &renewed, until.UTC(), list, owner, now()); err != nil {
		return nil, fmt.Errorf("renew outbox claim: %w", err)
	}
	return renewed, nil
}

// MarkOutboxSent records that the server accepted the mails ids, in one
// statement, and returns how many rows it marked. Only rows that owner
// still holds are marked: one another claim took is that claim's to send
// and settle.
func (s *Store) MarkOutboxSent(ctx context.Context, owner string, ids []int64) (int, error) {
	list, err := s.dialect.listArg(ids)
	if err != nil {
		return 0, err
	}
	res, err := s.outboxQ.MarkOutboxSent.ExecContext(ctx, now(), list, owner)
	if err != nil {
		return 0, fmt.Errorf("mark outbox sent: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("mark outbox sent: %w", err)
	}
	return int(n), nil
}

// RescheduleOutbox puts a row the caller still leases back to pending
// after a failed attempt, due again at next.
func (s *Store) RescheduleOutbox(ctx context.Context, m helpdesk.OutboxMessage, next time.Time, lastError string) error {
	_, err := s.outboxQ.RescheduleOutbox.ExecContext(ctx, next.UTC(), helpdesk.Truncate(lastError, 2000), m.ID, m.LeaseOwner)
	if err != nil {
		return fmt.Errorf("reschedule outbox %d: %w", m.ID, err)
	}
	return nil
}

// ReleaseOutbox gives a leased row back without counting an attempt (no
// SMTP server configured for it, or the notifier is stopping).
func (s *Store) ReleaseOutbox(ctx context.Context, m helpdesk.OutboxMessage, next time.Time, reason string) error {
	_, err := s.outboxQ.ReleaseOutbox.ExecContext(ctx, next.UTC(), helpdesk.Truncate(reason, 2000), m.ID, m.LeaseOwner)
	if err != nil {
		return fmt.Errorf("release outbox %d: %w", m.ID, err)
	}
	return nil
}

// FailOutbox marks a row the caller still leases as failed: the server
// refused it for good (5xx) or it ran out of attempts. Admins see it in
// FailedOutbox, with when it failed, and can RetryOutbox it.
func (s *Store) FailOutbox(ctx context.Context, m helpdesk.OutboxMessage, lastError string) error {
	_, err := s.outboxQ.FailOutbox.ExecContext(ctx, now(), helpdesk.Truncate(lastError, 2000), m.ID, m.LeaseOwner)
	if err != nil {
		return fmt.Errorf("fail outbox %d: %w", m.ID, err)
	}
	return nil
}

// RetryOutbox is an admin's manual retry of a failed row: pending again,
// due now, with a fresh attempt budget. Same row, same Message-ID; it is
// no longer failed, so failed_at goes.
func (s *Store) RetryOutbox(ctx context.Context, id int64) error {
	res, err := s.outboxQ.RetryOutbox.ExecContext(ctx, now(), id)
	if err != nil {
		return fmt.Errorf("retry outbox %d: %w", id, err)
	}
	if err := expectOneRow(res); err != nil {
		return fmt.Errorf("retry outbox %d: no failed mail with this id: %w", id, err)
	}
	return nil
}

// FailedOutboxShown is how many failed mails FailedOutbox lists: enough
// to act on, while OutboxStats.Failed still counts them all.
const FailedOutboxShown = 50

// FailedOutbox lists the newest FailedOutboxShown failed mails, newest
// first.
func (s *Store) FailedOutbox(ctx context.Context) ([]helpdesk.OutboxMessage, error) {
	var rows []outboxRow
	err := s.outboxQ.FailedOutbox.SelectContext(ctx, &rows, FailedOutboxShown)
	if err != nil {
		return nil, fmt.Errorf("list failed outbox: %w", err)
	}
	return messages(rows), nil
}

// OutboxMessage returns one row by id.
func (s *Store) OutboxMessage(ctx context.Context, id int64) (helpdesk.OutboxMessage, error) {
	var r outboxRow
	err := s.outboxQ.OutboxMessage.GetContext(ctx, &r, id)
	if errors.Is(err, sql.ErrNoRows) {
		return helpdesk.OutboxMessage{}, fmt.Errorf("outbox %d: %w", id, helpdesk.ErrNotFound)
	}
	if err != nil {
		return helpdesk.OutboxMessage{}, fmt.Errorf("get outbox %d: %w", id, err)
	}
	return r.message(), nil
}

// OutboxByKind lists rows of one kind (notification, reply, auto-ack,
// alert, test) by id, at most limit.
func (s *Store) OutboxByKind(ctx context.Context, kind string, limit int) ([]helpdesk.OutboxMessage, error) {
	var rows []outboxRow
	err := s.outboxQ.OutboxByKind.SelectContext(ctx, &rows, kind, limit)
	if err != nil {
		return nil, fmt.Errorf("list outbox %s: %w", kind, err)
	}
	return messages(rows), nil
}

// OutboxStats counts the outbox by status and reads the age of its oldest
// pending mail and the newest send error. It only reads. The oldest pending
// and the last error read only unsent rows, through the status indexes
// (outbox_status, outbox_due); the counts read all of outbox_status but not
// the table. Counting without reading every row would take a counter kept
// up to date on every status change.
func (s *Store) OutboxStats(ctx context.Context) (helpdesk.OutboxStats, error) {
	var st helpdesk.OutboxStats
	var counts []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := s.outboxQ.OutboxCounts.SelectContext(ctx, &counts); err != nil {
		return st, fmt.Errorf("count outbox: %w", err)
	}
	for _, c := range counts {
		switch c.Status {
		case "pending":
			st.Pending = c.N
		case "sent":
			st.Sent = c.N
		case "failed":
			st.Failed = c.N
		}
	}
	var oldest time.Time
	err := s.outboxQ.OldestPendingOutbox.GetContext(ctx, &oldest)
	if err == nil {
		st.OldestPendingAge = max(time.Since(oldest), 0)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("oldest pending outbox: %w", err)
	}
	err = s.outboxQ.LastOutboxError.GetContext(ctx, &st.LastError)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("last outbox error: %w", err)
	}
	return st, nil
}

// fallbackSender is the From of system mail when no mailbox exists yet.
const fallbackSender = "helpdesk@localhost"

// EnqueueTestEmail is the admin's "send test email": one outbox row that
// the notifier sends like any other mail, from the first mailbox's address
// and over its SMTP settings, so it tests the path real mail takes.
func (s *Store) EnqueueTestEmail(ctx context.Context, to string, requestedBy string) error {
	to = strings.TrimSpace(to)
	if a, err := mail.ParseAddress(to); err != nil || a.Address != to {
		return &helpdesk.ValidationError{Fields: map[string]string{"to": "must be a plain e-mail address like you@example.com"}}
	}
	requestedBy = helpdesk.OneLine(requestedBy, 200)
	return s.inTx(ctx, func(t *tx) error {
		from, mailboxID, err := s.systemSender(ctx, t)
		if err != nil {
			return err
		}
		at := now()
		_, err = enqueueTx(ctx, t, helpdesk.OutboundMail{
			// Each press of the button is its own event.
			DedupKey:  fmt.Sprintf("test:%d:%s", at.UnixNano(), strings.ToLower(to)),
			Kind:      "test",
			MailboxID: mailboxID,
			From:      from,
			To:        []string{to},
			Subject:   "Helpdesk test email",
			BodyText: fmt.Sprintf("This is a test email from the helpdesk, requested by %s at %s.\n\n"+
				"It went through the outbox and the notifier like every notification, so if it arrived, outbound mail works.\n",
				requestedBy, at.Format(time.RFC1123Z)),
			Headers: t.store.signer.AutomaticHeaders("auto-generated", from),
		})
		return err
	})
}

// systemSender is the first mailbox's address (and id), the sender of mail
// not tied to a mailbox.
func (s *Store) systemSender(ctx context.Context, t *tx) (string, int64, error) {
	var mb struct {
		ID    int64  `db:"id"`
		Email string `db:"email"`
	}
	err := t.get(ctx, &mb, s.outboxQ.SystemSender)
	if errors.Is(err, sql.ErrNoRows) {
		return fallbackSender, 0, nil
	}
	if err != nil {
		return "", 0, fmt.Errorf("read sender mailbox: %w", err)
	}
	return mb.Email, mb.ID, nil
}
