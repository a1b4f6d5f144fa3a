-- PostgreSQL's own texts of queries in ../outbox.sql.

-- name: claim-outbox
-- FOR UPDATE SKIP LOCKED: concurrent claimers never wait for, nor get, the
-- same row.
UPDATE outbox SET lease_owner = ?, lease_until = ?, attempts = attempts + 1
WHERE id IN (SELECT id FROM outbox
	WHERE status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
	ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED)
RETURNING id, dedup_key, kind, mailbox_id, thread_id, from_addr, to_addrs, cc_addrs, bcc_addrs, subject, body_text, body_html, headers,
	message_id, status, attempts, next_attempt_at, lease_owner, lease_until, last_error, attachment_count, created_at, sent_at, failed_at

-- name: renew-outbox-claim
UPDATE outbox SET lease_until = ?
WHERE id = ANY(?) AND lease_owner = ? AND status = 'pending' AND lease_until > ?
RETURNING id

-- name: mark-outbox-sent
UPDATE outbox SET status = 'sent', sent_at = COALESCE(sent_at, ?), lease_owner = '', lease_until = NULL,
	last_error = ''
WHERE id = ANY(?) AND lease_owner = ? AND status = 'pending'
