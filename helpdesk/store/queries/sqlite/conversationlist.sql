-- SQLite's own pieces of ../conversationlist.sql: the search over the FTS5
-- table conversation_search (rowid = conversation id) with a MATCH
-- expression (searchlist.go).

-- name: search
AND c.id IN (SELECT rowid FROM conversation_search WHERE conversation_search MATCH ?)

-- name: page-searching
-- The page of a search: the MATCH expression; ranked by page-searching-end.
SELECT c.id, c.mailbox_id, m.name AS mailbox_name, c.customer_id, cu.email AS customer_email,
	cu.name AS customer_name, c.subject, c.status, c.assignee_id, u.name AS assignee_name, c.preview,
	c.created_at, c.updated_at, c.last_message_at, c.version, c.customer_v, c.waiting_since
FROM conversation_search
JOIN conversations c ON c.id = conversation_search.rowid
JOIN mailboxes m ON m.id = c.mailbox_id
JOIN customers cu ON cu.id = c.customer_id
LEFT JOIN users u ON u.id = c.assignee_id
WHERE conversation_search MATCH ? AND c.merged_into IS NULL

-- name: order-rank
-- Best match first (bm25 weights: subject 10, customer 5, body 1; lower
-- is better).
ORDER BY bm25(conversation_search, 10.0, 5.0, 1.0), c.last_message_at DESC, c.id DESC

-- name: order-waiting
-- The oldest unanswered customer message first, the answered last
-- (SQLite indexes hold NULLs first, so this order is sorted).
ORDER BY c.waiting_since IS NULL, c.waiting_since, c.id
