-- The full-text index conversation_search (search.go); its key column
-- differs per database (queries/postgres, queries/sqlite).

-- name: unindexed-conversations
-- Conversations after an id that have no search row yet, with their
-- customer, a batch at a time: after id, limit.
SELECT c.id, c.subject, cu.name AS customer_name, cu.email AS customer_email
FROM conversations c JOIN customers cu ON cu.id = c.customer_id
WHERE c.id > ? AND c.id NOT IN (SELECT rowid FROM conversation_search)
ORDER BY c.id LIMIT ?

-- name: customer-bodies
-- The customer messages of conversations first to last id, in order.
SELECT conversation_id, body_text FROM threads
WHERE conversation_id BETWEEN ? AND ? AND kind = 'customer'
ORDER BY conversation_id, id

-- name: insert-search
-- id, subject, people, body.
INSERT INTO conversation_search (rowid, subject, people, body) VALUES (?, ?, ?, ?)

-- name: add-search-body
-- A new message's words, up to about 100,000 characters of body per
-- conversation (a tsvector holds at most 1 MB): words, id.
UPDATE conversation_search SET body = CASE WHEN length(body) < 100000 THEN body || ' ' || ? ELSE body END
WHERE rowid = ?
