-- The outbox queue: claiming rows with a lease, recording how a send went,
-- and the admin's view of it. Every query that reads a row reads the same
-- columns (outboxRow).

-- name: claim-outbox
-- SQLite: the one UPDATE runs under the database write lock, so two
-- claimers never get the same row (queries/postgres skips locked rows).
-- It reads outbox_due alone, in order, and stops at the limit; the planner
-- would otherwise read and sort every pending row.
UPDATE outbox SET lease_owner = ?, lease_until = ?, attempts = attempts + 1
WHERE id IN (SELECT id FROM outbox INDEXED BY outbox_due
	WHERE status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
	ORDER BY next_attempt_at LIMIT ?)
RETURNING id, dedup_key, kind, mailbox_id, thread_id, from_addr, to_addrs, cc_addrs, bcc_addrs, subject, body_text, body_html, headers,
	message_id, status, attempts, next_attempt_at, lease_owner, lease_until, last_error, attachment_count, created_at, sent_at, failed_at

-- name: renew-outbox-claim
-- Extends the lease of the listed rows the claim still holds; a row whose
-- lease ran out, or that another claim took, stays as it is.
UPDATE outbox SET lease_until = ?
WHERE id IN (SELECT value FROM json_each(?)) AND lease_owner = ? AND status = 'pending' AND lease_until > ?
RETURNING id

-- name: mark-outbox-sent
-- Only rows the claim still holds: a row another claim took is its own.
UPDATE outbox SET status = 'sent', sent_at = COALESCE(sent_at, ?), lease_owner = '', lease_until = NULL,
	last_error = ''
WHERE id IN (SELECT value FROM json_each(?)) AND lease_owner = ? AND status = 'pending'

-- name: reschedule-outbox
UPDATE outbox SET next_attempt_at = ?, last_error = ?, lease_owner = '', lease_until = NULL
WHERE id = ? AND lease_owner = ? AND status = 'pending'

-- name: release-outbox
-- Gives the attempt ClaimOutbox counted back.
UPDATE outbox SET next_attempt_at = ?, last_error = ?, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,
	lease_owner = '', lease_until = NULL
WHERE id = ? AND lease_owner = ? AND status = 'pending'

-- name: fail-outbox
UPDATE outbox SET status = 'failed', failed_at = ?, last_error = ?, lease_owner = '', lease_until = NULL
WHERE id = ? AND lease_owner = ? AND status = 'pending'

-- name: retry-outbox
UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, failed_at = NULL,
	lease_owner = '', lease_until = NULL
WHERE id = ? AND status = 'failed'

-- name: failed-outbox
-- By id, not failed_at: mails that failed before failed_at existed have
-- none. It reads the failed end of the outbox_status index.
SELECT id, dedup_key, kind, mailbox_id, thread_id, from_addr, to_addrs, cc_addrs, bcc_addrs, subject, body_text, body_html, headers,
	message_id, status, attempts, next_attempt_at, lease_owner, lease_until, last_error, attachment_count, created_at, sent_at, failed_at
FROM outbox WHERE status = 'failed' ORDER BY id DESC LIMIT ?

-- name: outbox-message
SELECT id, dedup_key, kind, mailbox_id, thread_id, from_addr, to_addrs, cc_addrs, bcc_addrs, subject, body_text, body_html, headers,
	message_id, status, attempts, next_attempt_at, lease_owner, lease_until, last_error, attachment_count, created_at, sent_at, failed_at
FROM outbox WHERE id = ?

-- name: outbox-by-kind
SELECT id, dedup_key, kind, mailbox_id, thread_id, from_addr, to_addrs, cc_addrs, bcc_addrs, subject, body_text, body_html, headers,
	message_id, status, attempts, next_attempt_at, lease_owner, lease_until, last_error, attachment_count, created_at, sent_at, failed_at
FROM outbox WHERE kind = ? ORDER BY id LIMIT ?

-- name: outbox-counts
SELECT status, COUNT(*) AS n FROM outbox GROUP BY status

-- name: oldest-pending-outbox
SELECT created_at FROM outbox WHERE status = 'pending' ORDER BY created_at, id LIMIT 1

-- name: last-outbox-error
-- IN rather than <> 'sent': neither database reads an index for <>.
SELECT last_error FROM outbox WHERE status IN ('pending', 'failed') AND last_error <> '' ORDER BY id DESC LIMIT 1

-- name: system-sender
-- The first mailbox: the sender of mail not tied to a mailbox.
SELECT id, email FROM mailboxes ORDER BY id LIMIT 1

-- name: compose-outbox
-- What a composed mail (an agent's reply, a forward) has beyond a plain
-- one, set in the transaction that enqueued the row.
UPDATE outbox SET cc_addrs = ?, bcc_addrs = ?, body_html = ? WHERE message_id = ? AND status = 'pending' RETURNING id

-- name: attach-thread-files
-- A reply's files: those stored on its thread.
INSERT INTO outbox_attachments (outbox_id, attachment_id) SELECT ?, id FROM attachments WHERE thread_id = ?

-- name: attach-conversation-files
-- A forward's files: those of the mail in the conversation (not notes).
INSERT INTO outbox_attachments (outbox_id, attachment_id)
SELECT ?, a.id FROM attachments a JOIN threads t ON t.id = a.thread_id
WHERE t.conversation_id = ? AND t.kind IN ('customer', 'reply')

-- name: count-outbox-files
UPDATE outbox SET attachment_count = (SELECT COUNT(*) FROM outbox_attachments WHERE outbox_id = ?) WHERE id = ?

-- name: outbox-attachments
-- The files of a row, in the order they were stored.
SELECT a.filename, a.content_type, a.data
FROM outbox_attachments oa JOIN attachments a ON a.id = oa.attachment_id
WHERE oa.outbox_id = ? ORDER BY a.id
