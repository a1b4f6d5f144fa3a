-- The fetch path: fences, fetch state and runs, "fetch now" requests, the
-- ledger, ingest of a message with its notifications, quarantine, and the
-- reads of the status page and the fault tests' audit.

-- name: fence
SELECT fence FROM mailbox_fences WHERE mailbox_id = ?

-- name: claim-fence
UPDATE mailbox_fences SET fence = ?, claimed_at = ? WHERE mailbox_id = ? AND fence < ?

-- name: lock-fence
-- The first statement of a fetch transaction (queries/postgres locks the row).
SELECT m.id, m.name, m.email, m.auto_ack, f.fence FROM mailboxes m
JOIN mailbox_fences f ON f.mailbox_id = m.id WHERE m.id = ?

-- name: fetch-state
SELECT mailbox_id, folder, uidvalidity, last_uid, import_uid, fence, last_run_at, last_success_at, last_error, failures
FROM fetch_state WHERE mailbox_id = ? AND folder = ?

-- name: fetch-states
SELECT mailbox_id, folder, uidvalidity, last_uid, import_uid, fence, last_run_at, last_success_at, last_error, failures
FROM fetch_state WHERE mailbox_id = ? ORDER BY folder

-- name: all-fetch-states
SELECT mailbox_id, folder, uidvalidity, last_uid, import_uid, fence, last_run_at, last_success_at, last_error, failures
FROM fetch_state ORDER BY mailbox_id, folder

-- name: save-fetch-progress
INSERT INTO fetch_state (mailbox_id, folder, uidvalidity, last_uid, fence)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (mailbox_id, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity,
	last_uid = excluded.last_uid, fence = excluded.fence

-- name: start-fetch-folder
INSERT INTO fetch_state (mailbox_id, folder, uidvalidity, last_uid, import_uid, fence)
VALUES (?, ?, ?, 0, ?, ?)
ON CONFLICT (mailbox_id, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity,
	last_uid = 0, import_uid = excluded.import_uid, fence = excluded.fence

-- name: record-fetch-success
INSERT INTO fetch_state (mailbox_id, folder, fence, last_run_at, last_success_at, last_error, failures)
VALUES (?, ?, ?, ?, ?, '', 0)
ON CONFLICT (mailbox_id, folder) DO UPDATE SET fence = excluded.fence, last_run_at = excluded.last_run_at,
	last_success_at = excluded.last_success_at, last_error = '', failures = 0

-- name: record-fetch-failure
INSERT INTO fetch_state (mailbox_id, folder, fence, last_run_at, last_error, failures)
VALUES (?, ?, ?, ?, ?, 1)
ON CONFLICT (mailbox_id, folder) DO UPDATE SET fence = excluded.fence, last_run_at = excluded.last_run_at,
	last_error = excluded.last_error, failures = fetch_state.failures + 1

-- name: mailbox-failures
SELECT COALESCE(MAX(failures), 0) FROM fetch_state WHERE mailbox_id = ?

-- name: last-fetch-error
SELECT last_error FROM fetch_state
WHERE mailbox_id = ? AND last_error <> '' ORDER BY last_run_at DESC LIMIT 1

-- name: start-run
INSERT INTO fetch_runs (mailbox_id, trigger, fence, holder, started_at)
VALUES (?, ?, ?, ?, ?) RETURNING id

-- name: prune-runs
DELETE FROM fetch_runs WHERE mailbox_id = ? AND id <
	(SELECT id FROM fetch_runs WHERE mailbox_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)

-- name: finish-run
UPDATE fetch_runs SET finished_at = ?, new = ?, duplicates = ?, quarantined = ?, error = ? WHERE id = ?

-- name: save-run-progress
INSERT INTO run_progress (mailbox_id, fence, folder, done, total, started_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (mailbox_id) DO UPDATE SET fence = excluded.fence, folder = excluded.folder, done = excluded.done,
	total = excluded.total, started_at = excluded.started_at, updated_at = excluded.updated_at

-- name: clear-run-progress
DELETE FROM run_progress WHERE mailbox_id = ?

-- name: run-progress
-- Only the current holder's: a row under an older fence was left by a run
-- that lost its lease.
SELECT p.mailbox_id, p.fence, p.folder, p.done, p.total, p.started_at, p.updated_at FROM run_progress p
JOIN mailbox_fences f ON f.mailbox_id = p.mailbox_id AND f.fence = p.fence WHERE p.mailbox_id = ?

-- name: all-run-progress
SELECT p.mailbox_id, p.fence, p.folder, p.done, p.total, p.started_at, p.updated_at FROM run_progress p
JOIN mailbox_fences f ON f.mailbox_id = p.mailbox_id AND f.fence = p.fence ORDER BY p.mailbox_id

-- name: recent-runs
SELECT id, mailbox_id, trigger, fence, holder, started_at, finished_at, new, duplicates, quarantined, error
FROM fetch_runs WHERE mailbox_id = ? ORDER BY id DESC LIMIT ?

-- name: all-recent-runs
SELECT id, mailbox_id, trigger, fence, holder, started_at, finished_at, new, duplicates, quarantined, error FROM (
	SELECT id, mailbox_id, trigger, fence, holder, started_at, finished_at, new, duplicates, quarantined, error,
		ROW_NUMBER() OVER (PARTITION BY mailbox_id ORDER BY id DESC) AS n
	FROM fetch_runs) r
WHERE n <= ? ORDER BY mailbox_id, id DESC

-- name: open-fetch-requests
SELECT COUNT(*) FROM fetch_requests WHERE mailbox_id = ? AND done_at IS NULL

-- name: request-fetch
INSERT INTO fetch_requests (mailbox_id, requested_by, requested_at) VALUES (?, ?, ?)

-- name: fetch-changes
-- What the fetch service reads every tick: the mailboxes' version, and the
-- mailboxes with an open fetch request (one row each; NULL when none).
SELECT v.version, r.mailbox_id FROM mailboxes_version v
LEFT JOIN (SELECT DISTINCT mailbox_id FROM fetch_requests WHERE done_at IS NULL) r ON TRUE

-- name: complete-fetch-requests
UPDATE fetch_requests SET done_at = ? WHERE mailbox_id = ? AND done_at IS NULL AND requested_at <= ?

-- name: prune-fetch-requests
DELETE FROM fetch_requests WHERE mailbox_id = ? AND done_at < ?

-- name: seen-uids
-- The list is one parameter (dialect.listArg); queries/postgres has = ANY.
SELECT uid, outcome FROM fetch_ledger WHERE mailbox_id = ? AND folder = ? AND uidvalidity = ?
AND uid IN (SELECT value FROM json_each(?))

-- name: stored-dedup-keys
SELECT dedup_key FROM fetch_ledger WHERE mailbox_id = ? AND outcome = 'new'
AND dedup_key IN (SELECT value FROM json_each(?))

-- name: prior-ledger
SELECT outcome, thread_id, 1 AS by_uid FROM fetch_ledger
WHERE mailbox_id = ? AND folder = ? AND uidvalidity = ? AND uid = ?
UNION ALL
SELECT outcome, thread_id, 0 AS by_uid FROM fetch_ledger
WHERE mailbox_id = ? AND dedup_key = ? AND outcome = 'new'

-- name: ledger-counts
SELECT outcome, COUNT(*) AS n FROM fetch_ledger WHERE mailbox_id = ? GROUP BY outcome

-- name: upsert-customer
INSERT INTO customers (email, name, created_at) VALUES (?, ?, ?)
ON CONFLICT (email) DO UPDATE SET name = CASE WHEN customers.name = '' THEN excluded.name ELSE customers.name END
RETURNING id

-- name: insert-conversation
-- Its first version (1) has a customer message, waiting since now.
INSERT INTO conversations (mailbox_id, customer_id, subject, status, preview, created_at, updated_at, last_message_at,
	customer_v, waiting_since)
VALUES (?, ?, ?, 'active', ?, ?, ?, ?, 1, ?) RETURNING id, subject, assignee_id

-- name: touch-conversation
-- A new customer message moves a conversation up and reopens it, unless
-- the message is an auto-reply.
-- It is a new version with a customer message (conversation-versions);
-- the right-hand sides read the row as it was. Unread again for everyone
-- (customer_v); waiting since this message unless already waiting.
UPDATE conversations SET last_message_at = ?, updated_at = ?, preview = ?,
	customer_v = version + 1, waiting_since = COALESCE(waiting_since, ?),
	status = CASE WHEN status IN ('closed', 'pending') AND ? THEN 'active' ELSE status END,
	status_v = CASE WHEN status IN ('closed', 'pending') AND ? THEN version + 1 ELSE status_v END,
	status_by = CASE WHEN status IN ('closed', 'pending') AND ? THEN NULL ELSE status_by END,
	thread_v = version + 1, thread_by = NULL, version = version + 1
WHERE id = ? RETURNING id, subject, assignee_id

-- name: conversation-by-references
SELECT t.conversation_id FROM threads t
JOIN conversations c ON c.id = t.conversation_id
WHERE c.mailbox_id = ? AND t.message_id IN (SELECT value FROM json_each(?))
ORDER BY t.id DESC LIMIT 1

-- name: conversation-by-subject-token
SELECT c.id FROM conversations c
JOIN conversation_participants p ON p.conversation_id = c.id
WHERE c.id = ? AND c.mailbox_id = ? AND p.email = ?

-- name: follow-merged
-- The conversation a message threaded into lives on in: itself, or the
-- one it was merged into (never a merged one, see repoint-merged).
-- PostgreSQL locks the row (postgres/fetch.sql), so that a merge
-- committed meanwhile is seen and the message lands in its target.
SELECT COALESCE(merged_into, id) FROM conversations WHERE id = ?

-- name: raw-message
SELECT gzipped FROM raw_messages WHERE id = ?

-- name: hold-quarantine
UPDATE quarantine SET status = 'held', reason = ?, updated_at = ? WHERE id = ?

-- name: resolve-quarantine
UPDATE quarantine SET status = 'resolved', thread_id = ?, updated_at = ? WHERE id = ?

-- name: quarantine-thread
-- The thread that shows a quarantined message to agents (NULL: none yet).
SELECT thread_id, raw_id FROM quarantine WHERE id = ?

-- name: show-quarantined
UPDATE quarantine SET thread_id = ? WHERE id = ?

-- name: replace-unreadable-thread
-- A retried message that now parses takes the place of the raw text shown.
UPDATE threads SET message_id = ?, in_reply_to = ?, from_email = ?, from_name = ?, to_addrs = ?, cc_addrs = ?,
	subject = ?, body_text = ?, body_html = ?, auto_reply = ? WHERE id = ?

-- name: forget-sanitized-html
-- A thread's HTML changed: what was made of the old one goes.
DELETE FROM sanitized_html WHERE thread_id = ?

-- name: replace-unreadable-conversation
UPDATE conversations SET customer_id = ?, subject = ?, preview = ?, updated_at = ?, version = version + 1
WHERE id = (SELECT conversation_id FROM threads WHERE id = ?) RETURNING id, subject, assignee_id

-- name: quarantined
-- With the conversation that shows the message to agents, if any.
SELECT q.id, q.mailbox_id, q.folder, q.uidvalidity, q.uid, q.reason, q.size, q.raw_complete, q.raw_id, q.status,
	q.created_at, q.updated_at, t.conversation_id
FROM quarantine q LEFT JOIN threads t ON t.id = q.thread_id
WHERE q.status <> 'resolved' AND (? = 0 OR q.mailbox_id = ?) ORDER BY q.id DESC LIMIT 500

-- name: quarantine-counts
-- Unresolved quarantined messages per mailbox, for the status page.
SELECT mailbox_id, COUNT(*) AS n FROM quarantine WHERE status <> 'resolved' GROUP BY mailbox_id

-- name: retry-quarantined
UPDATE quarantine SET status = 'retry', updated_at = ? WHERE id = ? AND status = 'held'

-- name: quarantined-mailbox
SELECT mailbox_id FROM quarantine WHERE id = ?

-- name: quarantined-for-retry
SELECT id, mailbox_id, folder, uidvalidity, uid, reason, size, raw_complete, raw_id, status, created_at, updated_at
FROM quarantine WHERE mailbox_id = ? AND status = 'retry' ORDER BY id

-- name: notified-users
-- The users with access to the mailbox (admins, and agents given it) whose
-- preference (notify_new_conversation, notify_customer_reply or
-- notify_assigned) is on; with a user id other than 0, only that user.
-- Disabled users get nothing.
SELECT u.id, u.email, u.name FROM users u
WHERE u.disabled_at IS NULL AND CASE ? WHEN 'notify_new_conversation' THEN u.notify_new_conversation
	WHEN 'notify_customer_reply' THEN u.notify_customer_reply
	WHEN 'notify_assigned' THEN u.notify_assigned ELSE FALSE END
AND (u.role = 'admin' OR EXISTS (SELECT 1 FROM user_mailboxes um WHERE um.user_id = u.id AND um.mailbox_id = ?))
AND (? = 0 OR u.id = ?)
ORDER BY u.id

-- name: count-mailboxes-by-email
SELECT COUNT(*) FROM mailboxes WHERE email = ?

-- name: count-notifications-by-message-id
SELECT COUNT(*) FROM outbox WHERE message_id = ? AND kind IN ('notification', 'alert', 'test')

-- name: recent-auto-acks
SELECT COUNT(*) FROM auto_acks WHERE mailbox_id = ? AND email = ? AND sent_at > ?

-- name: record-auto-ack
INSERT INTO auto_acks (mailbox_id, email, sent_at) VALUES (?, ?, ?)

-- name: assigned-conversation
SELECT c.mailbox_id, c.subject, m.name AS mailbox_name, m.email AS mailbox_email,
	COALESCE((SELECT MAX(t.id) FROM threads t WHERE t.conversation_id = c.id), 0) AS last_thread
FROM conversations c JOIN mailboxes m ON m.id = c.mailbox_id WHERE c.id = ?

-- name: user-name
SELECT name FROM users WHERE id = ?

-- name: flip-fetch-alert
UPDATE mailboxes SET fetch_alert_sent = ? WHERE id = ? AND fetch_alert_sent = ?

-- name: mailbox-info
SELECT id, name, email, auto_ack FROM mailboxes WHERE id = ?

-- name: count-outbox-by-key-pattern
SELECT COUNT(*) FROM outbox WHERE dedup_key LIKE ?

-- name: admin-emails
SELECT email FROM users WHERE role = 'admin' AND disabled_at IS NULL ORDER BY id

-- name: audit-threads
SELECT t.message_id, COUNT(*) AS n FROM threads t
JOIN conversations c ON c.id = t.conversation_id
WHERE c.mailbox_id = ? AND t.kind = 'customer' GROUP BY t.message_id

-- name: audit-conversations
SELECT COUNT(*) FROM conversations WHERE mailbox_id = ?

-- name: audit-quarantine
SELECT COUNT(*) FROM quarantine WHERE mailbox_id = ?

-- name: audit-fences
-- Ledger rows written with a fence lower than one accepted before them.
SELECT COUNT(*) FROM (
	SELECT fence, MAX(fence) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
	FROM fetch_ledger l WHERE mailbox_id = ? AND NOT EXISTS (SELECT 1 FROM quarantine q
		WHERE q.mailbox_id = l.mailbox_id AND q.folder = l.folder AND q.uidvalidity = l.uidvalidity AND q.uid = l.uid)
) w WHERE fence < before

-- Rows the fetch path collects (rowinsert.go), one at a time.

-- name: insert-raw-message
INSERT INTO raw_messages (id, size, gzipped) VALUES (?, ?, ?)

-- name: insert-thread
INSERT INTO threads (id, conversation_id, kind, message_id, in_reply_to, from_email, from_name, to_addrs, cc_addrs,
	subject, body_text, body_html, auto_reply, raw_id, created_at, mail_date)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: insert-attachment
INSERT INTO attachments (thread_id, filename, content_type, content_id, inline, size, data)
VALUES (?, ?, ?, ?, ?, ?, ?)

-- name: insert-participant
INSERT INTO conversation_participants (conversation_id, email) VALUES (?, ?) ON CONFLICT DO NOTHING

-- name: insert-quarantine
INSERT INTO quarantine (mailbox_id, folder, uidvalidity, uid, reason, size, raw_complete, raw_id, thread_id, status,
	created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: insert-ledger
-- A row left by quarantine is updated when the message is retried.
INSERT INTO fetch_ledger (mailbox_id, folder, uidvalidity, uid, dedup_key, outcome, thread_id, fence, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (mailbox_id, folder, uidvalidity, uid) DO UPDATE SET
	dedup_key = excluded.dedup_key, outcome = excluded.outcome, thread_id = excluded.thread_id, fence = excluded.fence

-- name: insert-outbox
INSERT INTO outbox (dedup_key, kind, mailbox_id, thread_id, from_addr, to_addrs, subject, body_text, headers,
	message_id, status, attempts, next_attempt_at, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (dedup_key) DO NOTHING

-- name: insert-search
-- A conversation's full-text index row (searchindex.go); the key column is
-- the FTS5 rowid: id, subject, people, body.
INSERT INTO conversation_search (rowid, subject, people, body) VALUES (?, ?, ?, ?)

-- name: insert-event
-- A live event (events.go).
INSERT INTO events (name, mailbox_id, conversation_id, thread_id, created_at) VALUES (?, ?, ?, ?, ?)
