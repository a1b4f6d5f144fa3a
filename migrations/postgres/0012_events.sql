-- Live events for the web (conversation.created, conversation.updated,
-- thread.created), written in the transaction of the change they report.
-- The id is the server-sent event id: a client that reconnects with
-- Last-Event-ID gets the rows after it. Rows are pruned after a day.
--
-- A reader reads the rows after the last id it has seen, so ids must
-- become visible in id order. A row is therefore inserted with a negative
-- placeholder id, and numbered at commit by a deferred trigger that first
-- takes a transaction advisory lock: numbering and commit happen in the
-- same order, inside the server's commit, so no client (a frozen fetcher)
-- can hold the lock between two statements.
CREATE SEQUENCE events_pending_seq;
CREATE SEQUENCE events_id_seq;
CREATE TABLE events (
    id              BIGINT PRIMARY KEY DEFAULT -nextval('events_pending_seq'),
    name            TEXT NOT NULL,
    mailbox_id      BIGINT NOT NULL,
    conversation_id BIGINT NOT NULL,
    thread_id       BIGINT,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_created ON events (created_at);

CREATE FUNCTION number_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7254661170128419841);
    UPDATE events SET id = nextval('events_id_seq') WHERE id = NEW.id;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER number_event AFTER INSERT ON events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION number_event();
