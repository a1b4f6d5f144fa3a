-- name: order-events
-- Taken right before a transaction inserts its events and held until it
-- commits: event ids are handed out and committed in the same order, so
-- a reader that has delivered id N never finds a smaller id later.
-- (NOTIFY serialises these commits in PostgreSQL anyway.) The key is
-- arbitrary and used for nothing else.
SELECT pg_advisory_xact_lock(7254661170128419841)

-- name: notify-events
SELECT pg_notify('helpdesk_events', '')
