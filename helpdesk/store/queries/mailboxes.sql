-- Mailboxes as admins set them up, with their folders. Every query that
-- reads a mailbox reads the same columns (helpdesk.Mailbox).

-- name: create-mailbox
INSERT INTO mailboxes (name, email, imap_host, imap_port, imap_security, imap_user, imap_password_enc, after_fetch,
	move_to_folder, enabled, poll_interval_s, import_since, max_message_bytes, smtp_url_enc, auto_ack,
	imap_allow_insecure, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id

-- name: create-mailbox-fence
INSERT INTO mailbox_fences (mailbox_id, fence) VALUES (?, 0)

-- name: update-mailbox
UPDATE mailboxes SET name = ?, email = ?, imap_host = ?, imap_port = ?, imap_security = ?, imap_user = ?,
	imap_password_enc = ?, after_fetch = ?, move_to_folder = ?, enabled = ?, poll_interval_s = ?,
	import_since = ?, max_message_bytes = ?, smtp_url_enc = ?, auto_ack = ?, imap_allow_insecure = ?, updated_at = ?
WHERE id = ?

-- name: bump-mailboxes-version
UPDATE mailboxes_version SET version = version + 1 WHERE id = 1

-- name: set-mailbox-enabled
UPDATE mailboxes SET enabled = ?, updated_at = ? WHERE id = ?

-- name: clear-mailbox-folders
DELETE FROM mailbox_folders WHERE mailbox_id = ?

-- name: add-mailbox-folder
INSERT INTO mailbox_folders (mailbox_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING

-- name: mailbox
SELECT id, name, email, imap_host, imap_port, imap_security, imap_user, imap_password_enc, after_fetch,
	move_to_folder, enabled, poll_interval_s, import_since, max_message_bytes, smtp_url_enc, auto_ack,
	imap_allow_insecure, fetch_alert_sent, created_at, updated_at, signature
FROM mailboxes WHERE id = ?

-- name: mailbox-folders
SELECT name FROM mailbox_folders WHERE mailbox_id = ? ORDER BY name

-- name: mailboxes
SELECT id, name, email, imap_host, imap_port, imap_security, imap_user, imap_password_enc, after_fetch,
	move_to_folder, enabled, poll_interval_s, import_since, max_message_bytes, smtp_url_enc, auto_ack,
	imap_allow_insecure, fetch_alert_sent, created_at, updated_at, signature
FROM mailboxes ORDER BY id

-- name: all-mailbox-folders
SELECT mailbox_id, name FROM mailbox_folders ORDER BY mailbox_id, name

-- name: set-mailbox-signature
UPDATE mailboxes SET signature = ? WHERE id = ?

-- name: reply-signature
-- The signature template of a conversation's mailbox, and its name.
SELECT m.name, m.signature FROM mailboxes m JOIN conversations c ON c.mailbox_id = m.id WHERE c.id = ?
