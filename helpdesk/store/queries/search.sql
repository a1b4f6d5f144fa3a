-- The full-text index conversation_search (search.go); its key column
-- differs per database (queries/postgres, queries/sqlite).

-- name: conversations-to-index
-- Conversations after an id with their customer, a batch at a time:
-- after id, limit.
SELECT c.id, c.subject, cu.name AS customer_name, cu.email AS customer_email
FROM conversations c JOIN customers cu ON cu.id = c.customer_id
WHERE c.id > ?
ORDER BY c.id LIMIT ?

-- name: thread-bodies
-- The customer messages, replies and notes of conversations first to
-- last id, in order.
SELECT conversation_id, body_text FROM threads
WHERE conversation_id BETWEEN ? AND ?
ORDER BY conversation_id, id

-- name: delete-search
-- The rows of conversations first to last id, before they are rebuilt.
DELETE FROM conversation_search WHERE rowid BETWEEN ? AND ?

-- name: add-search-body
-- A new message's words, up to about 100,000 characters of body per
-- conversation (a tsvector holds at most 1 MB): words, id.
UPDATE conversation_search SET body = CASE WHEN length(body) < 100000 THEN body || ' ' || ? ELSE body END
WHERE rowid = ?

-- name: reindex-progress
-- How far the rebuild a migration asked for got; no row: none asked for.
SELECT after_id FROM search_reindex

-- name: save-reindex-progress
UPDATE search_reindex SET after_id = ?

-- name: finish-reindex
DELETE FROM search_reindex
