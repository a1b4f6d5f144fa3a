-- The pieces the conversation list is composed of (conversationlist.go):
-- a head, the conditions its filter needs, each "AND ...", and an end.
-- They are not statements of their own, so they are not prepared.
-- The search pieces differ per database (queries/postgres, queries/sqlite).
-- Merged conversations (merged_into) are left out; the list indexes cover
-- only the others.

-- name: count
-- Counts per status, over every filter but the status itself.
SELECT c.status, COUNT(*) AS n FROM conversations c WHERE c.merged_into IS NULL

-- name: count-end
GROUP BY c.status

-- name: page
SELECT c.id, c.mailbox_id, m.name AS mailbox_name, c.customer_id, cu.email AS customer_email,
	cu.name AS customer_name, c.subject, c.status, c.assignee_id, u.name AS assignee_name, c.preview,
	c.created_at, c.updated_at, c.last_message_at
FROM conversations c
JOIN mailboxes m ON m.id = c.mailbox_id
JOIN customers cu ON cu.id = c.customer_id
LEFT JOIN users u ON u.id = c.assignee_id
WHERE c.merged_into IS NULL

-- name: page-end
-- Newest message first: limit, offset.
ORDER BY c.last_message_at DESC, c.id DESC LIMIT ? OFFSET ?

-- name: agent
-- An agent sees the mailboxes given to them: user id.
AND c.mailbox_id IN (SELECT um.mailbox_id FROM user_mailboxes um WHERE um.user_id = ?)

-- name: mailbox
AND c.mailbox_id = ?

-- name: unassigned
AND c.assignee_id IS NULL

-- name: assignee
AND c.assignee_id = ?

-- name: tag
AND EXISTS (SELECT 1 FROM conversation_tags ct JOIN tags tg ON tg.id = ct.tag_id
	WHERE ct.conversation_id = c.id AND tg.name = ?)

-- name: mailbox-named
-- mailbox: in a search, by name or address (twice).
AND c.mailbox_id IN (SELECT mb.id FROM mailboxes mb WHERE lower(mb.name) = lower(?) OR lower(mb.email) = lower(?))

-- name: status
AND c.status = ?
