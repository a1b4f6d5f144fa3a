-- PostgreSQL's own queries of ../search.sql: the key is conversation_id.

-- name: unindexed-conversations
SELECT c.id, c.subject, cu.name AS customer_name, cu.email AS customer_email
FROM conversations c JOIN customers cu ON cu.id = c.customer_id
WHERE c.id > ? AND NOT EXISTS (SELECT 1 FROM conversation_search s WHERE s.conversation_id = c.id)
ORDER BY c.id LIMIT ?

-- name: insert-search
INSERT INTO conversation_search (conversation_id, subject, people, body) VALUES (?, ?, ?, ?)

-- name: add-search-body
UPDATE conversation_search SET body = CASE WHEN length(body) < 100000 THEN body || ' ' || ? ELSE body END
WHERE conversation_id = ?
