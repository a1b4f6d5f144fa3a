-- PostgreSQL's own pieces of ../conversationlist.sql: the search over
-- conversation_search.document with a to_tsquery text (searchlist.go).

-- name: search
AND c.id IN (SELECT s.conversation_id FROM conversation_search s WHERE s.document @@ to_tsquery('simple', ?))

-- name: page-searching
-- The page of a search: the tsquery text; ranked by page-searching-end.
SELECT c.id, c.mailbox_id, m.name AS mailbox_name, c.customer_id, cu.email AS customer_email,
	cu.name AS customer_name, c.subject, c.status, c.assignee_id, u.name AS assignee_name, c.preview,
	c.created_at, c.updated_at, c.last_message_at, c.version, c.customer_v, c.waiting_since
FROM conversation_search s
CROSS JOIN to_tsquery('simple', ?) AS query
JOIN conversations c ON c.id = s.conversation_id
JOIN mailboxes m ON m.id = c.mailbox_id
JOIN customers cu ON cu.id = c.customer_id
LEFT JOIN users u ON u.id = c.assignee_id
WHERE s.document @@ query AND c.merged_into IS NULL

-- name: order-rank
-- Best match first (weights: subject A, customer B, body D).
ORDER BY ts_rank(s.document, query) DESC, c.last_message_at DESC, c.id DESC

-- name: order-waiting
-- The oldest unanswered customer message first, the answered last
-- (conversations_waiting: ascending, NULLs last).
ORDER BY c.waiting_since ASC NULLS LAST, c.id ASC

-- name: mailboxes
AND c.mailbox_id = ANY(?)
