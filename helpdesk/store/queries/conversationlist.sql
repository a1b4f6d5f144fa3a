-- The pieces the conversation list is composed of (conversationlist.go):
-- a head, the conditions its filter needs, each "AND ...", and an end.
-- They are not statements of their own, so they are not prepared.
-- The search pieces differ per database (queries/postgres, queries/sqlite).
-- Merged conversations (merged_into) are left out; the list indexes cover
-- only the others.

-- name: count
-- Counts per status, over every filter but the status itself.
SELECT c.status, COUNT(*) AS n FROM conversations c WHERE c.merged_into IS NULL

-- name: count-searching
-- The same in a search, which finds its few conversations first.
SELECT c.status, COUNT(*) AS n FROM conversations c WHERE c.merged_into IS NULL

-- name: count-end
-- By mailbox too, in the order of conversations_folders, so that SQLite
-- counts as it reads instead of sorting every row by status; summed in Go.
GROUP BY c.mailbox_id, c.status

-- name: page
SELECT c.id, c.mailbox_id, m.name AS mailbox_name, c.customer_id, cu.email AS customer_email,
	cu.name AS customer_name, c.subject, c.status, c.assignee_id, u.name AS assignee_name, c.preview,
	c.created_at, c.updated_at, c.last_message_at, c.version, c.customer_v, c.waiting_since
FROM conversations c
JOIN mailboxes m ON m.id = c.mailbox_id
JOIN customers cu ON cu.id = c.customer_id
LEFT JOIN users u ON u.id = c.assignee_id
WHERE c.merged_into IS NULL

-- name: order-last
-- Newest message first (conversations_list, conversations_recent).
ORDER BY c.last_message_at DESC, c.id DESC

-- name: order-created
-- Newest conversation first (conversations_created).
ORDER BY c.created_at DESC, c.id DESC

-- name: limit
-- limit, offset.
LIMIT ? OFFSET ?

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
-- The tag's conversations as a set (conversation_tags_tag), not a lookup
-- per conversation.
AND c.id IN (SELECT ct.conversation_id FROM conversation_tags ct JOIN tags tg ON tg.id = ct.tag_id WHERE tg.name = ?)

-- name: mailbox-named
-- mailbox: in a search, by name or address (twice).
AND c.mailbox_id IN (SELECT mb.id FROM mailboxes mb WHERE lower(mb.name) = lower(?) OR lower(mb.email) = lower(?))

-- name: status
AND c.status = ?

-- name: open
-- The folders Mine, Unassigned, Assigned.
AND c.status IN ('active', 'pending')

-- name: assigned
AND c.assignee_id IS NOT NULL

-- name: folder-counts
-- The sidebar: conversations per mailbox, status and assignee, and how
-- many have a customer message; conversations_folders alone, in its order.
SELECT c.mailbox_id, c.status, c.assignee_id, COUNT(*) AS n, SUM(CASE WHEN c.customer_v > 0 THEN 1 ELSE 0 END) AS unread
FROM conversations c WHERE c.merged_into IS NULL

-- name: folder-reads
-- The same groups over the conversations the viewer (user id) has
-- read since their newest customer message: as many rows as they read,
-- not as conversations there are. Unread is the difference.
SELECT c.mailbox_id, c.status, c.assignee_id, COUNT(*) AS n, 0 AS unread
FROM conversation_reads r JOIN conversations c ON c.id = r.conversation_id
WHERE r.user_id = ? AND c.merged_into IS NULL AND c.customer_v > 0 AND r.read_v >= c.customer_v

-- name: mailboxes
-- The folders of the agent's mailboxes: their ids as one list parameter.
AND c.mailbox_id IN (SELECT value FROM json_each(?))

-- name: folder-end
GROUP BY c.mailbox_id, c.status, c.assignee_id
