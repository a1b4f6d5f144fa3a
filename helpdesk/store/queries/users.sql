-- Users, their mailboxes, sessions and API tokens. Every query that reads a
-- user reads the same columns (helpdesk.User). A deleted user's row stays
-- (replies and notes name it) but no query of this file finds it; a
-- disabled user is found, and listed, but cannot sign in: no session or
-- token of theirs is accepted.

-- name: create-user
INSERT INTO users (email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)
RETURNING id, email, name, role, notify_new_conversation, notify_customer_reply, notify_assigned, time_zone, created_at, disabled_at

-- name: user
SELECT id, email, name, role, notify_new_conversation, notify_customer_reply, notify_assigned, time_zone, created_at, disabled_at
FROM users WHERE id = ? AND deleted_at IS NULL

-- name: user-by-email
SELECT id, email, name, role, notify_new_conversation, notify_customer_reply, notify_assigned, time_zone, created_at, disabled_at
FROM users WHERE email = ? AND deleted_at IS NULL

-- name: users
SELECT id, email, name, role, notify_new_conversation, notify_customer_reply, notify_assigned, time_zone, created_at, disabled_at
FROM users WHERE deleted_at IS NULL ORDER BY email

-- name: user-with-password
SELECT id, email, name, role, notify_new_conversation, notify_customer_reply, notify_assigned, time_zone, created_at, disabled_at,
	password_hash
FROM users WHERE email = ? AND disabled_at IS NULL

-- name: user-mailbox-ids
SELECT mailbox_id FROM user_mailboxes WHERE user_id = ? ORDER BY mailbox_id

-- name: clear-user-mailboxes
DELETE FROM user_mailboxes WHERE user_id = ?

-- name: add-user-mailbox
INSERT INTO user_mailboxes (user_id, mailbox_id) VALUES (?, ?) ON CONFLICT DO NOTHING

-- name: create-session
INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)

-- name: session-by-token
SELECT u.id, u.email, u.name, u.role, u.notify_new_conversation, u.notify_customer_reply, u.notify_assigned, u.time_zone,
	u.created_at, u.disabled_at, s.csrf_token, s.expires_at
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled_at IS NULL

-- name: delete-session
DELETE FROM sessions WHERE token_hash = ?

-- name: delete-expired-sessions
DELETE FROM sessions WHERE expires_at <= ?

-- name: delete-other-sessions
-- Signs a user out everywhere but the session with this hash ('' for none).
DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?

-- name: password-hash
SELECT password_hash FROM users WHERE id = ? AND disabled_at IS NULL

-- name: set-password
UPDATE users SET password_hash = ? WHERE id = ? AND deleted_at IS NULL

-- name: set-role
UPDATE users SET role = ? WHERE id = ? AND deleted_at IS NULL

-- name: disable-user
UPDATE users SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL AND deleted_at IS NULL

-- name: enable-user
UPDATE users SET disabled_at = NULL WHERE id = ? AND deleted_at IS NULL

-- name: delete-user
-- Keeps the row and its name, frees the address for a new user.
UPDATE users SET disabled_at = COALESCE(disabled_at, ?), deleted_at = ?, email = 'deleted-' || id || '.' || email
WHERE id = ? AND deleted_at IS NULL

-- name: active-admins
-- PostgreSQL locks the rows (queries/postgres/users.sql) so that two
-- admins demoting each other at once cannot both succeed.
SELECT id FROM users WHERE role = 'admin' AND disabled_at IS NULL ORDER BY id

-- name: open-assigned-conversations
SELECT id, mailbox_id FROM conversations WHERE assignee_id = ? AND status IN ('active', 'pending') ORDER BY id

-- name: delete-user-tokens
DELETE FROM api_tokens WHERE user_id = ?

-- name: create-api-token
INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
RETURNING id

-- name: user-by-api-token
-- The owner of a live token: not expired, owner not disabled.
SELECT u.id, u.email, u.name, u.role, u.notify_new_conversation, u.notify_customer_reply, u.notify_assigned, u.time_zone,
	u.created_at, u.disabled_at, t.id AS token_id, t.last_used_at
FROM api_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = ? AND (t.expires_at IS NULL OR t.expires_at > ?) AND u.disabled_at IS NULL

-- name: touch-api-token
-- Writes last use at most once a minute per token: the last argument is a
-- minute ago.
UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)

-- name: api-tokens
-- The tokens of one user, or with user id 0 of everyone.
SELECT t.id, t.user_id, u.email AS user_email, u.name AS user_name, t.name, t.created_at, t.last_used_at, t.expires_at
FROM api_tokens t JOIN users u ON u.id = t.user_id
WHERE (? = 0 OR t.user_id = ?)
ORDER BY u.email, t.id

-- name: revoke-api-token
-- With owner id 0, any user's token (an admin revoking).
DELETE FROM api_tokens WHERE id = ? AND (? = 0 OR user_id = ?)

-- name: set-time-zone
UPDATE users SET time_zone = ? WHERE id = ? AND deleted_at IS NULL
