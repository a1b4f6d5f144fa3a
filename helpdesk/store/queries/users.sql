-- Users, their mailboxes, sessions and API tokens. Every query that reads a
-- user reads the same columns (helpdesk.User).

-- name: create-user
INSERT INTO users (email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)
RETURNING id, email, name, role, notify_new_conversation, notify_customer_reply, notify_assigned, created_at

-- name: user
SELECT id, email, name, role, notify_new_conversation, notify_customer_reply, notify_assigned, created_at
FROM users WHERE id = ?

-- name: user-by-email
SELECT id, email, name, role, notify_new_conversation, notify_customer_reply, notify_assigned, created_at
FROM users WHERE email = ?

-- name: users
SELECT id, email, name, role, notify_new_conversation, notify_customer_reply, notify_assigned, created_at
FROM users ORDER BY email

-- name: user-with-password
SELECT id, email, name, role, notify_new_conversation, notify_customer_reply, notify_assigned, created_at,
	password_hash
FROM users WHERE email = ?

-- name: user-mailbox-ids
SELECT mailbox_id FROM user_mailboxes WHERE user_id = ? ORDER BY mailbox_id

-- name: clear-user-mailboxes
DELETE FROM user_mailboxes WHERE user_id = ?

-- name: add-user-mailbox
INSERT INTO user_mailboxes (user_id, mailbox_id) VALUES (?, ?) ON CONFLICT DO NOTHING

-- name: create-session
INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)

-- name: session-by-token
SELECT u.id, u.email, u.name, u.role, u.notify_new_conversation, u.notify_customer_reply, u.notify_assigned,
	u.created_at, s.csrf_token, s.expires_at
FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ?

-- name: delete-session
DELETE FROM sessions WHERE token_hash = ?

-- name: delete-expired-sessions
DELETE FROM sessions WHERE expires_at <= ?

-- name: create-api-token
INSERT INTO api_tokens (user_id, token_hash, created_at) VALUES (?, ?, ?)

-- name: user-by-api-token
SELECT u.id, u.email, u.name, u.role, u.notify_new_conversation, u.notify_customer_reply, u.notify_assigned,
	u.created_at
FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?
