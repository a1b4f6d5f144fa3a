-- OAuth2 sign-in of a mailbox (Gmail, Microsoft 365, any OAuth2 provider):
-- a mailbox with a row here logs in to IMAP and SMTP with access tokens
-- from the provider's token endpoint instead of a password. Secrets are
-- encrypted with HELPDESK_SECRET_KEY like the IMAP passwords.
--
-- token_version grows with every stored refresh token: writes of a
-- rotated token compare and set it, so two instances refreshing at once
-- never overwrite a newer token with an older one. needs_reconnect is set
-- when the provider refused the refresh token (invalid_grant): no token
-- requests are made until an admin connects the mailbox again. A refresh
-- is claimed (refresh_claim until refresh_claim_until) so that one instance
-- at a time uses the refresh token.
CREATE TABLE mailbox_oauth (
    mailbox_id         INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    provider           TEXT NOT NULL CHECK (provider IN ('google', 'microsoft', 'generic')),
    auth_url           TEXT NOT NULL DEFAULT '',
    token_url          TEXT NOT NULL,
    scopes             TEXT NOT NULL DEFAULT '',
    client_id          TEXT NOT NULL,
    client_secret_enc  TEXT NOT NULL DEFAULT '',
    refresh_token_enc  TEXT NOT NULL DEFAULT '',
    token_version      INTEGER NOT NULL DEFAULT 1,
    account            TEXT NOT NULL DEFAULT '',
    needs_reconnect    INTEGER NOT NULL DEFAULT 0,
    reconnect_reason   TEXT NOT NULL DEFAULT '',
    refresh_claim      TEXT NOT NULL DEFAULT '',
    refresh_claim_until TIMESTAMP,
    updated_at         TIMESTAMP NOT NULL
);
