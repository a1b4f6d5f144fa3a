-- SQLite's own pieces of ../conversationlist.sql: the search over the FTS5
-- table conversation_search (rowid = conversation id) with a MATCH
-- expression (searchlist.go).

-- name: count
-- SQLite scanned the table's rows for counts (BenchmarkConversationList);
-- conversations_folders holds every column a count's conditions read,
-- the tag's and the agent's sets are probed by id.
SELECT c.status, COUNT(*) AS n FROM conversations c INDEXED BY conversations_folders
WHERE c.merged_into IS NULL AND c.customer_v >= 0

-- name: folder-counts
SELECT c.mailbox_id, c.status, c.assignee_id, COUNT(*) AS n, SUM(CASE WHEN c.customer_v > 0 THEN 1 ELSE 0 END) AS unread
FROM conversations c INDEXED BY conversations_folders WHERE c.merged_into IS NULL AND c.customer_v >= 0

-- name: folder-reads
SELECT c.mailbox_id, c.status, c.assignee_id, COUNT(*) AS n, 0 AS unread
FROM conversation_reads r JOIN conversations c INDEXED BY conversations_read_state ON c.id = r.conversation_id
WHERE r.user_id = ? AND c.merged_into IS NULL AND c.customer_v > 0 AND r.read_v >= c.customer_v

-- The tag and the assignee do not choose the index (unary +): SQLite
-- drove the page from the tag's or the assignee's rows, joined each to
-- its mailbox and customer and sorted them all, where walking an index in
-- the page's order and testing them stops after a page.

-- name: tag
AND +c.id IN (SELECT ct.conversation_id FROM conversation_tags ct JOIN tags tg ON tg.id = ct.tag_id WHERE tg.name = ?)

-- name: assignee
AND +c.assignee_id = ?

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
-- (conversations_waiting is on these expressions: SQLite puts NULLs first).
ORDER BY c.waiting_since IS NULL, c.waiting_since, c.id
