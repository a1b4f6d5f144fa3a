-- Live events (migration 0014): written by the transaction of the change,
-- read by each web process after the last id it has seen.

-- name: events-after
SELECT id, name, mailbox_id, conversation_id, thread_id, created_at FROM events WHERE id > ? ORDER BY id LIMIT ?

-- name: last-event-id
SELECT COALESCE(MAX(id), 0) FROM events

-- name: delete-events-before
DELETE FROM events WHERE created_at < ?
