-- Conversations as agents see them: one conversation, its changes,
-- replies and notes, tags and attachments.
--
-- A viewer sees a conversation when admin, or when given its mailbox; the
-- queries take the viewer as two parameters (admin, user id):
--   (? OR c.mailbox_id IN (SELECT um.mailbox_id FROM user_mailboxes um WHERE um.user_id = ?))
-- The list itself is composed from the pieces in conversationlist.sql.

-- name: conversation-tags
-- The tags of a page of conversations; the ids are one list parameter.
SELECT ct.conversation_id, tg.name FROM conversation_tags ct JOIN tags tg ON tg.id = ct.tag_id
WHERE ct.conversation_id IN (SELECT value FROM json_each(?)) ORDER BY tg.name

-- name: conversation-reads
-- The versions a user (user id) read of a page of conversations (one list
-- parameter).
SELECT conversation_id, read_v FROM conversation_reads
WHERE user_id = ? AND conversation_id IN (SELECT value FROM json_each(?))

-- name: mark-read
-- A user (user id) read a conversation at a version; reading an older
-- page (another tab) never makes it unread again.
INSERT INTO conversation_reads (user_id, conversation_id, read_v) VALUES (?, ?, ?)
ON CONFLICT (user_id, conversation_id) DO UPDATE SET read_v = excluded.read_v
WHERE excluded.read_v > conversation_reads.read_v

-- name: mark-read-now
-- A user (user id) read a conversation (id) as it is now.
INSERT INTO conversation_reads (user_id, conversation_id, read_v)
SELECT ?, c.id, c.version FROM conversations c WHERE c.id = ?
ON CONFLICT (user_id, conversation_id) DO UPDATE SET read_v = excluded.read_v
WHERE excluded.read_v > conversation_reads.read_v

-- name: mark-unread
-- A user (user id) wants a conversation unread again: as if never read.
DELETE FROM conversation_reads WHERE user_id = ? AND conversation_id = ?

-- name: unread
-- Whether a conversation is unread for a user (user id, conversation id):
-- a customer message newer than what they read; 1 or 0.
SELECT CASE WHEN c.customer_v > COALESCE((SELECT r.read_v FROM conversation_reads r
	WHERE r.user_id = ? AND r.conversation_id = c.id), 0) THEN 1 ELSE 0 END
FROM conversations c WHERE c.id = ?

-- name: conversation
-- One conversation by id, if the viewer (admin, user id) may see it;
-- also a merged one, whose reader is sent on to merged_into.
SELECT c.id, c.mailbox_id, m.name AS mailbox_name, c.customer_id, cu.email AS customer_email,
	cu.name AS customer_name, c.subject, c.status, c.assignee_id, u.name AS assignee_name, c.preview,
	c.created_at, c.updated_at, c.last_message_at, c.version, c.merged_into
FROM conversations c
JOIN mailboxes m ON m.id = c.mailbox_id
JOIN customers cu ON cu.id = c.customer_id
LEFT JOIN users u ON u.id = c.assignee_id
WHERE c.id = ? AND (? OR c.mailbox_id IN (SELECT um.mailbox_id FROM user_mailboxes um WHERE um.user_id = ?))

-- name: mailbox-email
SELECT email FROM mailboxes WHERE id = ?

-- name: conversation-threads
-- A thread is unreadable while it shows the raw text of a quarantined message.
-- Only the size of the HTML: the page shows kept sanitised HTML
-- (sanitized-html) and reads a body (thread-html) only to
-- sanitise it once.
SELECT id, kind, message_id, in_reply_to, from_email, from_name, to_addrs, cc_addrs, bcc_addrs, subject,
	body_text, octet_length(body_html) AS html_size, auto_reply, user_id, created_at, mail_date,
	EXISTS (SELECT 1 FROM quarantine q WHERE q.thread_id = threads.id AND q.status <> 'resolved') AS unreadable
FROM threads WHERE conversation_id = ? ORDER BY id

-- name: reply-deliveries
-- Where the mail of each reply, and of each forward (on the note that
-- records it), is: its outbox row.
SELECT o.thread_id, o.status, o.sent_at, o.last_error
FROM outbox o JOIN threads t ON t.id = o.thread_id
WHERE t.conversation_id = ? AND (t.kind = 'reply' AND o.kind = 'reply' OR t.kind = 'note' AND o.kind = 'forward')
ORDER BY o.id

-- name: retry-reply
-- An agent's retry of a failed reply or forward (thread id): the same row,
-- pending again, as an admin's retry from the outbox.
UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, failed_at = NULL,
	lease_owner = '', lease_until = NULL
WHERE thread_id = ? AND kind IN ('reply', 'forward') AND status = 'failed'
	AND thread_id IN (SELECT id FROM threads WHERE conversation_id = ? AND kind IN ('reply', 'note'))

-- name: conversation-attachments
-- Without their data.
SELECT a.id, a.thread_id, a.filename, a.content_type, a.content_id, a.inline, a.size
FROM attachments a JOIN threads t ON t.id = a.thread_id
WHERE t.conversation_id = ? ORDER BY a.id

-- name: thread-html
-- The HTML body of a thread as it arrived, of a conversation the viewer
-- (admin, user id) may see.
SELECT t.body_html FROM threads t JOIN conversations c ON c.id = t.conversation_id
WHERE t.id = ? AND (? OR c.mailbox_id IN (SELECT um.mailbox_id FROM user_mailboxes um WHERE um.user_id = ?))

-- name: sanitized-html
-- The kept sanitised HTML of some threads (one list parameter) for one
-- view (remote images or not) made by one version of the sanitiser, of
-- conversations the viewer (admin, user id) may see.
SELECT s.thread_id, s.remote_images, s.policy, s.html, s.remote_blocked
FROM sanitized_html s JOIN threads t ON t.id = s.thread_id JOIN conversations c ON c.id = t.conversation_id
WHERE s.thread_id IN (SELECT value FROM json_each(?)) AND s.remote_images = ? AND s.policy = ?
AND (? OR c.mailbox_id IN (SELECT um.mailbox_id FROM user_mailboxes um WHERE um.user_id = ?))

-- name: save-sanitized-html
-- Two first views at once both write; the same HTML either way.
INSERT INTO sanitized_html (thread_id, remote_images, policy, html, remote_blocked) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (thread_id, remote_images) DO UPDATE SET policy = excluded.policy, html = excluded.html,
	remote_blocked = excluded.remote_blocked

-- name: conversation-mailbox
-- The mailbox of a conversation the viewer (admin, user id) may see and
-- change: not a merged one, whose threads are elsewhere.
SELECT c.mailbox_id FROM conversations c
WHERE c.id = ? AND c.merged_into IS NULL AND (? OR c.mailbox_id IN (SELECT um.mailbox_id FROM user_mailboxes um WHERE um.user_id = ?))

-- name: conversation-versions
-- The versions of a conversation and its fields, and who changed them.
-- PostgreSQL locks the row (postgres/conversations.sql) so that the
-- check and the change are one step; SQLite transactions are exclusive.
SELECT c.version, c.status, c.assignee_id, c.last_message_at, c.preview,
	c.status_v, c.status_by, su.name AS status_by_name,
	c.assignee_v, c.assignee_by, au.name AS assignee_by_name,
	c.thread_v, c.thread_by, tu.name AS thread_by_name,
	c.tags_v, c.tags_by, gu.name AS tags_by_name
FROM conversations c
LEFT JOIN users su ON su.id = c.status_by
LEFT JOIN users au ON au.id = c.assignee_by
LEFT JOIN users tu ON tu.id = c.thread_by
LEFT JOIN users gu ON gu.id = c.tags_by
WHERE c.id = ?

-- name: can-see-mailbox
-- Whether a user exists, is not disabled and may see a mailbox.
SELECT COUNT(*) FROM users u WHERE u.id = ? AND u.disabled_at IS NULL AND (u.role = 'admin'
	OR EXISTS (SELECT 1 FROM user_mailboxes um WHERE um.user_id = u.id AND um.mailbox_id = ?))

-- name: assign-conversation
-- Changes only a different assignee, so that the caller knows whether to
-- notify.
UPDATE conversations SET assignee_id = ?, assignee_v = ?, assignee_by = ?, version = ?, updated_at = ?
WHERE id = ? AND assignee_id IS DISTINCT FROM ?

-- name: set-conversation-status
-- Changes only a different status.
UPDATE conversations SET status = ?, status_v = ?, status_by = ?, version = ?, updated_at = ?
WHERE id = ? AND status <> ?

-- name: assignees
-- The users who can see a mailbox, by name; not the disabled.
SELECT u.id, u.name, u.email FROM users u
WHERE u.disabled_at IS NULL
AND (u.role = 'admin' OR EXISTS (SELECT 1 FROM user_mailboxes um WHERE um.user_id = u.id AND um.mailbox_id = ?))
ORDER BY u.name, u.id

-- name: visible-mailboxes
-- The mailboxes the viewer (admin, user id) may see, by name.
SELECT m.id, m.name, m.email FROM mailboxes m
WHERE (? OR m.id IN (SELECT um.mailbox_id FROM user_mailboxes um WHERE um.user_id = ?))
ORDER BY m.name, m.id

-- name: reply-context
SELECT c.mailbox_id, m.email AS mailbox_email, cu.email AS customer_email, c.subject
FROM conversations c JOIN mailboxes m ON m.id = c.mailbox_id JOIN customers cu ON cu.id = c.customer_id
WHERE c.id = ?

-- name: own-addresses
-- Every address this helpdesk fetches mail for: each mailbox's, and its
-- IMAP account's when that is an address.
SELECT email FROM mailboxes
UNION SELECT imap_user FROM mailboxes WHERE imap_user LIKE '%_@_%'

-- name: author
SELECT name, email FROM users WHERE id = ?

-- name: conversation-message-ids
SELECT kind, message_id FROM threads
WHERE conversation_id = ? AND kind IN ('customer', 'reply') AND message_id <> '' ORDER BY id

-- name: insert-reply
-- body_html is the HTML the mail carries, so the page shows the reply as
-- the customer sees it.
INSERT INTO threads (conversation_id, kind, in_reply_to, from_email, from_name, to_addrs, cc_addrs, bcc_addrs,
	subject, body_text, body_html, user_id, created_at)
VALUES (?, 'reply', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id

-- name: set-thread-message-id
UPDATE threads SET message_id = ? WHERE id = ?

-- name: insert-note
INSERT INTO threads (conversation_id, kind, from_email, from_name, body_text, user_id, created_at)
VALUES (?, 'note', ?, ?, ?, ?, ?) RETURNING id

-- name: record-reply
-- A reply answers what the customer is waiting for.
UPDATE conversations SET thread_v = ?, thread_by = ?, version = ?, updated_at = ?, waiting_since = NULL WHERE id = ?

-- name: record-note
UPDATE conversations SET version = ?, updated_at = ? WHERE id = ?

-- name: record-tags
UPDATE conversations SET tags_v = ?, tags_by = ?, version = ?, updated_at = ? WHERE id = ?

-- name: insert-tag
-- Waits for a concurrent insert of the same name to commit; the tag-id
-- after it (a new statement, a new snapshot) then sees that row.
INSERT INTO tags (name) VALUES (?) ON CONFLICT (name) DO NOTHING

-- name: tag-id
SELECT id FROM tags WHERE name = ?

-- name: tag-conversation
INSERT INTO conversation_tags (conversation_id, tag_id) VALUES (?, ?) ON CONFLICT DO NOTHING

-- name: untag-conversation
DELETE FROM conversation_tags WHERE conversation_id = ? AND tag_id IN (SELECT id FROM tags WHERE name = ?)

-- name: tags
-- The tags the viewer (admin, user id) may see: admins all, agents those
-- on conversations of their mailboxes.
SELECT tg.name FROM tags tg
WHERE ? OR EXISTS (SELECT 1 FROM conversation_tags ct JOIN conversations c ON c.id = ct.conversation_id
	WHERE ct.tag_id = tg.id AND c.mailbox_id IN (SELECT um.mailbox_id FROM user_mailboxes um WHERE um.user_id = ?))
ORDER BY tg.name

-- name: attachment
-- An attachment of a conversation the viewer (admin, user id) may see.
SELECT a.id, a.thread_id, a.filename, a.content_type, a.content_id, a.inline, a.size, a.data
FROM attachments a JOIN threads t ON t.id = a.thread_id JOIN conversations c ON c.id = t.conversation_id
WHERE a.id = ? AND (? OR c.mailbox_id IN (SELECT um.mailbox_id FROM user_mailboxes um WHERE um.user_id = ?))

-- name: inline-attachment
-- The part of a thread with a Content-ID, of a conversation the viewer
-- (admin, user id) may see.
SELECT a.id, a.thread_id, a.filename, a.content_type, a.content_id, a.inline, a.size, a.data
FROM attachments a JOIN threads t ON t.id = a.thread_id JOIN conversations c ON c.id = t.conversation_id
WHERE a.thread_id = ? AND a.content_id = ?
AND (? OR c.mailbox_id IN (SELECT um.mailbox_id FROM user_mailboxes um WHERE um.user_id = ?))
ORDER BY a.id LIMIT 1

-- name: merge-threads
-- Threads move with their message ids, so that replies to them thread
-- into the target (threading.go).
UPDATE threads SET conversation_id = ? WHERE conversation_id = ?

-- name: merge-participants
INSERT INTO conversation_participants (conversation_id, email)
SELECT ?, email FROM conversation_participants WHERE conversation_id = ? ON CONFLICT DO NOTHING

-- name: drop-participants
DELETE FROM conversation_participants WHERE conversation_id = ?

-- name: merge-tags
INSERT INTO conversation_tags (conversation_id, tag_id)
SELECT ?, tag_id FROM conversation_tags WHERE conversation_id = ? ON CONFLICT DO NOTHING

-- name: drop-tags
DELETE FROM conversation_tags WHERE conversation_id = ?

-- name: record-merge-into
-- The target of a merge: new messages and maybe tags, the newest message
-- of both: last message time, preview.
UPDATE conversations SET last_message_at = ?, preview = ?, thread_v = ?, thread_by = ?, tags_v = ?, tags_by = ?,
	version = ?, updated_at = ?
WHERE id = ?

-- name: record-merge-unread
-- The target of a merge is unread again when customer messages moved in
-- (the source's customer_v; source id, new version), and waits since its
-- oldest customer message after its last reply, of both (target id).
UPDATE conversations SET
	customer_v = CASE WHEN (SELECT s.customer_v FROM conversations s WHERE s.id = ?) > 0 THEN ? ELSE customer_v END,
	waiting_since = (SELECT MIN(t.created_at) FROM threads t
		WHERE t.conversation_id = conversations.id AND t.kind = 'customer'
		AND t.id > COALESCE((SELECT MAX(r.id) FROM threads r WHERE r.conversation_id = conversations.id AND r.kind = 'reply'), 0))
WHERE id = ?

-- name: record-merged
UPDATE conversations SET merged_into = ?, version = ?, updated_at = ? WHERE id = ?

-- name: repoint-merged
-- Conversations merged into the source of a merge point at its target, so
-- that a merged conversation is one step from its threads.
UPDATE conversations SET merged_into = ? WHERE merged_into = ?

-- name: customer
SELECT id, email, name, created_at FROM customers WHERE id = ?

-- name: customer-conversations
-- The conversations of a customer the viewer (admin, user id) may see,
-- newest message first; not the merged ones.
SELECT c.id, c.mailbox_id, m.name AS mailbox_name, c.customer_id, cu.email AS customer_email,
	cu.name AS customer_name, c.subject, c.status, c.assignee_id, u.name AS assignee_name, c.preview,
	c.created_at, c.updated_at, c.last_message_at
FROM conversations c
JOIN mailboxes m ON m.id = c.mailbox_id
JOIN customers cu ON cu.id = c.customer_id
LEFT JOIN users u ON u.id = c.assignee_id
WHERE c.customer_id = ? AND c.merged_into IS NULL
AND (? OR c.mailbox_id IN (SELECT um.mailbox_id FROM user_mailboxes um WHERE um.user_id = ?))
ORDER BY c.last_message_at DESC, c.id DESC

-- name: customer-names
-- The names the customer signed their mail with, in conversations the
-- viewer (admin, user id) may see.
SELECT DISTINCT t.from_name FROM threads t JOIN conversations c ON c.id = t.conversation_id
WHERE c.customer_id = ? AND t.kind = 'customer' AND t.from_name <> '' AND lower(t.from_email) = ?
AND (? OR c.mailbox_id IN (SELECT um.mailbox_id FROM user_mailboxes um WHERE um.user_id = ?))
ORDER BY t.from_name
