-- What helps agents write replies: saved replies that admins keep, and
-- each agent's draft of a reply, per conversation.

-- name: saved-replies
-- The saved replies a viewer (admin, user id) may use: every global one
-- and those of their mailboxes; with a mailbox id (not 0), only those that
-- apply there (global ones and that mailbox's).
SELECT s.id, s.mailbox_id, m.name AS mailbox_name, s.name, s.body, s.created_at, s.updated_at
FROM saved_replies s LEFT JOIN mailboxes m ON m.id = s.mailbox_id
WHERE (s.mailbox_id IS NULL OR ? OR s.mailbox_id IN (SELECT um.mailbox_id FROM user_mailboxes um WHERE um.user_id = ?))
AND (? = 0 OR s.mailbox_id IS NULL OR s.mailbox_id = ?)
ORDER BY s.name, s.id

-- name: saved-reply
SELECT s.id, s.mailbox_id, m.name AS mailbox_name, s.name, s.body, s.created_at, s.updated_at
FROM saved_replies s LEFT JOIN mailboxes m ON m.id = s.mailbox_id
WHERE s.id = ?
AND (s.mailbox_id IS NULL OR ? OR s.mailbox_id IN (SELECT um.mailbox_id FROM user_mailboxes um WHERE um.user_id = ?))

-- name: create-saved-reply
INSERT INTO saved_replies (mailbox_id, name, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id

-- name: update-saved-reply
UPDATE saved_replies SET mailbox_id = ?, name = ?, body = ?, updated_at = ? WHERE id = ?

-- name: delete-saved-reply
DELETE FROM saved_replies WHERE id = ?

-- name: draft
SELECT body FROM reply_drafts WHERE user_id = ? AND conversation_id = ?

-- name: save-draft
INSERT INTO reply_drafts (user_id, conversation_id, body, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (user_id, conversation_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at

-- name: delete-draft
DELETE FROM reply_drafts WHERE user_id = ? AND conversation_id = ?

-- name: append-merged-drafts
-- A merge (separator, updated at, target id, source id, source id): an
-- agent with a draft in both keeps the target's, the source's after it.
UPDATE reply_drafts SET body = body || CAST(? AS TEXT) || (SELECT s.body FROM reply_drafts s
	WHERE s.user_id = reply_drafts.user_id AND s.conversation_id = ?), updated_at = ?
WHERE conversation_id = ? AND user_id IN (SELECT s.user_id FROM reply_drafts s WHERE s.conversation_id = ?)

-- name: move-merged-drafts
-- A merge (target id, source id, target id): the source's other drafts
-- move to the target.
UPDATE reply_drafts SET conversation_id = ?
WHERE conversation_id = ? AND user_id NOT IN (SELECT t.user_id FROM reply_drafts t WHERE t.conversation_id = ?)

-- name: drop-merged-drafts
-- A merge (source id): its drafts left are in the target's now.
DELETE FROM reply_drafts WHERE conversation_id = ?
