-- name: notify-events
-- Delivered at commit, after the rows are numbered (migration 0014).
SELECT pg_notify('helpdesk_events', '')
