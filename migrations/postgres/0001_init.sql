-- The whole first schema: mail in (mailboxes, fetch state, ledger, quarantine),
-- the helpdesk (customers, conversations, threads, tags, users) and mail out (outbox).

CREATE TABLE mailboxes (
    id                 BIGSERIAL PRIMARY KEY,
    name               TEXT NOT NULL,
    email              TEXT NOT NULL UNIQUE,
    imap_host          TEXT NOT NULL,
    imap_port          INTEGER NOT NULL,
    imap_security      TEXT NOT NULL CHECK (imap_security IN ('none', 'starttls', 'tls')),
    imap_user          TEXT NOT NULL,
    imap_password_enc  TEXT NOT NULL,
    after_fetch        TEXT NOT NULL DEFAULT 'leave' CHECK (after_fetch IN ('leave', 'seen', 'move')),
    move_to_folder     TEXT NOT NULL DEFAULT '',
    enabled            BOOLEAN NOT NULL DEFAULT TRUE,
    poll_interval_s    INTEGER NOT NULL DEFAULT 60,
    import_since       TIMESTAMPTZ,
    max_message_bytes  BIGINT NOT NULL DEFAULT 26214400,
    smtp_url_enc       TEXT NOT NULL DEFAULT '',
    auto_ack           BOOLEAN NOT NULL DEFAULT FALSE,
    fetch_alert_sent   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);

CREATE TABLE mailbox_folders (
    mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, name)
);

-- The fencing number of a mailbox: claimed by each lease holder, checked by
-- every write a fetch makes.
CREATE TABLE mailbox_fences (
    mailbox_id BIGINT PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    fence      BIGINT NOT NULL DEFAULT 0,
    claimed_at TIMESTAMPTZ
);

CREATE TABLE fetch_state (
    mailbox_id      BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    folder          TEXT NOT NULL,
    uidvalidity     BIGINT NOT NULL DEFAULT 0,
    last_uid        BIGINT NOT NULL DEFAULT 0,
    fence           BIGINT NOT NULL DEFAULT 0,
    last_run_at     TIMESTAMPTZ,
    last_success_at TIMESTAMPTZ,
    last_error      TEXT NOT NULL DEFAULT '',
    failures        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (mailbox_id, folder)
);

CREATE TABLE fetch_runs (
    id          BIGSERIAL PRIMARY KEY,
    mailbox_id  BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    trigger     TEXT NOT NULL,
    fence       BIGINT NOT NULL,
    holder      TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    new         INTEGER NOT NULL DEFAULT 0,
    duplicates  INTEGER NOT NULL DEFAULT 0,
    quarantined INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX fetch_runs_mailbox ON fetch_runs (mailbox_id, id DESC);

-- "Fetch now" from the web: a request the fetch service picks up.
CREATE TABLE fetch_requests (
    id           BIGSERIAL PRIMARY KEY,
    mailbox_id   BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    requested_by TEXT NOT NULL DEFAULT '',
    requested_at TIMESTAMPTZ NOT NULL,
    done_at      TIMESTAMPTZ
);
CREATE INDEX fetch_requests_open ON fetch_requests (mailbox_id) WHERE done_at IS NULL;

CREATE TABLE raw_messages (
    id         BIGSERIAL PRIMARY KEY,
    size       BIGINT NOT NULL,
    gzipped    BYTEA NOT NULL
);

CREATE TABLE customers (
    id         BIGSERIAL PRIMARY KEY,
    email      TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id                      BIGSERIAL PRIMARY KEY,
    email                   TEXT NOT NULL UNIQUE,
    name                    TEXT NOT NULL,
    role                    TEXT NOT NULL CHECK (role IN ('admin', 'agent')),
    password_hash           TEXT NOT NULL,
    notify_new_conversation BOOLEAN NOT NULL DEFAULT TRUE,
    notify_customer_reply   BOOLEAN NOT NULL DEFAULT TRUE,
    notify_assigned         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at              TIMESTAMPTZ NOT NULL
);

CREATE TABLE user_mailboxes (
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, mailbox_id)
);

CREATE TABLE api_tokens (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

-- The human number of a conversation is its id.
CREATE TABLE conversations (
    id              BIGSERIAL PRIMARY KEY,
    mailbox_id      BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    customer_id     BIGINT NOT NULL REFERENCES customers(id),
    subject         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'pending', 'closed', 'spam')),
    assignee_id     BIGINT REFERENCES users(id) ON DELETE SET NULL,
    preview         TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    last_message_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX conversations_list ON conversations (mailbox_id, status, last_message_at DESC, id DESC);
CREATE INDEX conversations_recent ON conversations (last_message_at DESC, id DESC);
CREATE INDEX conversations_customer ON conversations (customer_id);
CREATE INDEX conversations_assignee ON conversations (assignee_id);

-- A thread is one message in a conversation: from the customer, an agent's
-- reply or an internal note.
CREATE TABLE threads (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('customer', 'reply', 'note')),
    message_id      TEXT NOT NULL DEFAULT '',
    in_reply_to     TEXT NOT NULL DEFAULT '',
    from_email      TEXT NOT NULL DEFAULT '',
    from_name       TEXT NOT NULL DEFAULT '',
    to_addrs        TEXT NOT NULL DEFAULT '',
    cc_addrs        TEXT NOT NULL DEFAULT '',
    subject         TEXT NOT NULL DEFAULT '',
    body_text       TEXT NOT NULL DEFAULT '',
    body_html       TEXT NOT NULL DEFAULT '',
    auto_reply      BOOLEAN NOT NULL DEFAULT FALSE,
    user_id         BIGINT REFERENCES users(id) ON DELETE SET NULL,
    raw_id          BIGINT REFERENCES raw_messages(id),
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX threads_conversation ON threads (conversation_id, id);
CREATE INDEX threads_message_id ON threads (message_id) WHERE message_id <> '';

-- Everyone who took part in a conversation; a [#N] subject token only
-- threads a mail from one of them.
CREATE TABLE conversation_participants (
    conversation_id BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    PRIMARY KEY (conversation_id, email)
);

CREATE TABLE attachments (
    id           BIGSERIAL PRIMARY KEY,
    thread_id    BIGINT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content_id   TEXT NOT NULL DEFAULT '',
    inline       BOOLEAN NOT NULL DEFAULT FALSE,
    size         BIGINT NOT NULL,
    data         BYTEA NOT NULL
);
CREATE INDEX attachments_thread ON attachments (thread_id);

CREATE TABLE tags (
    id   BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE conversation_tags (
    conversation_id BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    tag_id          BIGINT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    PRIMARY KEY (conversation_id, tag_id)
);
CREATE INDEX conversation_tags_tag ON conversation_tags (tag_id);

-- Every message seen on the server, once per (mailbox, folder, UIDVALIDITY, UID),
-- with what became of it. dedup_key finds the same mail under another UID.
CREATE TABLE fetch_ledger (
    id            BIGSERIAL PRIMARY KEY,
    mailbox_id    BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    folder        TEXT NOT NULL,
    uidvalidity   BIGINT NOT NULL,
    uid           BIGINT NOT NULL,
    dedup_key     TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('new', 'duplicate', 'quarantined')),
    thread_id     BIGINT REFERENCES threads(id) ON DELETE SET NULL,
    fence         BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (mailbox_id, folder, uidvalidity, uid)
);
-- One stored conversation thread per mail and mailbox.
CREATE UNIQUE INDEX fetch_ledger_dedup ON fetch_ledger (mailbox_id, dedup_key) WHERE outcome = 'new';

CREATE TABLE quarantine (
    id           BIGSERIAL PRIMARY KEY,
    mailbox_id   BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    folder       TEXT NOT NULL,
    uidvalidity  BIGINT NOT NULL,
    uid          BIGINT NOT NULL,
    reason       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    raw_complete BOOLEAN NOT NULL,
    raw_id       BIGINT NOT NULL REFERENCES raw_messages(id),
    status       TEXT NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'retry', 'resolved')),
    thread_id    BIGINT REFERENCES threads(id) ON DELETE SET NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (mailbox_id, folder, uidvalidity, uid)
);

-- Outbound mail: enqueued in the transaction of the event that causes it;
-- dedup_key makes an event processed twice enqueue once.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    dedup_key       TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    mailbox_id      BIGINT REFERENCES mailboxes(id) ON DELETE SET NULL,
    thread_id       BIGINT REFERENCES threads(id) ON DELETE SET NULL,
    from_addr       TEXT NOT NULL,
    to_addrs        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    headers         TEXT NOT NULL DEFAULT '',
    message_id      TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_owner     TEXT NOT NULL DEFAULT '',
    lease_until     TIMESTAMPTZ,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';

-- Auto-acknowledgements sent, to rate-limit them per sender.
CREATE TABLE auto_acks (
    mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    sent_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX auto_acks_sender ON auto_acks (mailbox_id, email, sent_at);
