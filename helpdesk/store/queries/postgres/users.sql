-- name: active-admins
-- Locked in id order: a concurrent demotion waits, then reads again.
SELECT id FROM users WHERE role = 'admin' AND disabled_at IS NULL ORDER BY id FOR UPDATE
