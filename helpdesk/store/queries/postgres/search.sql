-- PostgreSQL's own queries of ../search.sql: the key is conversation_id.

-- name: delete-search
DELETE FROM conversation_search WHERE conversation_id BETWEEN ? AND ?

-- name: add-search-body
UPDATE conversation_search SET body = CASE WHEN length(body) < 100000 THEN body || ' ' || ? ELSE body END
WHERE conversation_id = ?

-- name: reindex-progress
-- Locked: two processes migrating at once rebuild a batch each in turn.
SELECT after_id FROM search_reindex FOR UPDATE
