-- Account lifecycle. A disabled user cannot sign in and none of their
-- sessions or API tokens is accepted. A deleted user is kept (disabled, with
-- deleted_at set and the address freed) because replies, notes and closed
-- conversations still name them. API tokens get a name and may expire.
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMP;
ALTER TABLE users ADD COLUMN deleted_at TIMESTAMP;
ALTER TABLE api_tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMP;
CREATE INDEX api_tokens_user ON api_tokens (user_id, id);
CREATE INDEX sessions_user ON sessions (user_id);
