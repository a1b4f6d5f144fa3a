-- SQLite's own queries of the fetch path: the largest ids, counted on from
-- under the write lock a fetch transaction holds from BEGIN.

-- name: max-thread-id
SELECT COALESCE(MAX(id), 0) FROM threads

-- name: max-raw-message-id
SELECT COALESCE(MAX(id), 0) FROM raw_messages
