-- Live events for the web (conversation.created, conversation.updated,
-- thread.created), written in the transaction of the change they report.
-- The id is the server-sent event id: a client that reconnects with
-- Last-Event-ID gets the rows after it. Rows are pruned after a day.
-- Writers take a transaction-level advisory lock right before inserting
-- them (events.sql), so ids commit in id order and a reader that has seen
-- id N never sees a smaller id appear later.
CREATE TABLE events (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT NOT NULL,
    mailbox_id      BIGINT NOT NULL,
    conversation_id BIGINT NOT NULL,
    thread_id       BIGINT,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_created ON events (created_at);
