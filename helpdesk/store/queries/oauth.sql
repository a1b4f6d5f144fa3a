-- OAuth2 sign-in of mailboxes (mailbox_oauth). The refresh token is
-- replaced only under the version it was read with (compare and set), so
-- concurrent refreshers never store an older token over a newer one.

-- name: insert-mailbox-oauth
INSERT INTO mailbox_oauth (mailbox_id, provider, auth_url, token_url, scopes, client_id, client_secret_enc,
	refresh_token_enc, token_version, account, needs_reconnect, reconnect_reason, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)

-- name: mailbox-oauth
SELECT provider, auth_url, token_url, scopes, client_id, client_secret_enc, refresh_token_enc, token_version,
	account, needs_reconnect, reconnect_reason, updated_at
FROM mailbox_oauth WHERE mailbox_id = ?

-- name: all-mailbox-oauth
SELECT mailbox_id, provider, auth_url, token_url, scopes, client_id, client_secret_enc, refresh_token_enc,
	token_version, account, needs_reconnect, reconnect_reason, updated_at
FROM mailbox_oauth ORDER BY mailbox_id

-- name: save-refresh-token
UPDATE mailbox_oauth SET refresh_token_enc = ?, token_version = token_version + 1, updated_at = ?
WHERE mailbox_id = ? AND token_version = ? AND needs_reconnect = ?

-- name: mark-needs-reconnect
UPDATE mailbox_oauth SET needs_reconnect = ?, reconnect_reason = ?, updated_at = ?
WHERE mailbox_id = ? AND token_version = ? AND needs_reconnect = ?

-- name: connect-mailbox-oauth
UPDATE mailbox_oauth SET provider = ?, auth_url = ?, token_url = ?, scopes = ?, client_id = ?, client_secret_enc = ?,
	refresh_token_enc = ?, token_version = token_version + 1, account = ?, needs_reconnect = ?, reconnect_reason = '',
	updated_at = ?
WHERE mailbox_id = ?

-- name: oauth-needs-reconnect
SELECT COUNT(*) FROM mailbox_oauth WHERE mailbox_id = ? AND needs_reconnect = ?

-- name: claim-token-refresh
UPDATE mailbox_oauth SET refresh_claim = ?, refresh_claim_until = ?
WHERE mailbox_id = ? AND (refresh_claim_until IS NULL OR refresh_claim_until < ?)

-- name: release-token-refresh
UPDATE mailbox_oauth SET refresh_claim = '', refresh_claim_until = NULL WHERE mailbox_id = ? AND refresh_claim = ?
