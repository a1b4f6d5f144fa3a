-- Live events for the web (conversation.created, conversation.updated,
-- thread.created), written in the transaction of the change they report.
-- The id is the server-sent event id: a client that reconnects with
-- Last-Event-ID gets the rows after it. SQLite has one writer at a time,
-- so ids commit in id order. Rows are pruned after a day.
CREATE TABLE events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL,
    mailbox_id      INTEGER NOT NULL,
    conversation_id INTEGER NOT NULL,
    thread_id       INTEGER,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX events_created ON events (created_at);
