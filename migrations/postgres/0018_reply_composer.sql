-- What helps an agent write a reply: the mailbox's signature (a template
-- with {{agent}} and {{mailbox}}, appended to every reply), saved replies
-- (global when mailbox_id is NULL) and one draft per agent and
-- conversation, saved while they type.
ALTER TABLE mailboxes ADD COLUMN signature TEXT NOT NULL DEFAULT '';

CREATE TABLE saved_replies (
    id         BIGSERIAL PRIMARY KEY,
    mailbox_id BIGINT REFERENCES mailboxes(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX saved_replies_mailbox ON saved_replies (mailbox_id, name);

CREATE TABLE reply_drafts (
    user_id         BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    body            TEXT NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
);
