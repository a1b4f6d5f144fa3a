-- Full-text search: per conversation its subject, customer (name and
-- address) and message bodies as folded words (helpdesk.SearchText: case
-- and accents folded in Go, German ü → ue beside), kept current in the
-- ingest transaction. The 'simple' configuration neither stems nor drops
-- words, so both databases match the same words. Weights rank a subject
-- match (A) above the customer (B) above a body (D). Existing
-- conversations are indexed by Store.Migrate (IndexSearch), in Go, with
-- the same folding.
CREATE TABLE conversation_search (
    conversation_id BIGINT PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    subject         TEXT NOT NULL,
    people          TEXT NOT NULL,
    body            TEXT NOT NULL,
    document        tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', subject), 'A') ||
        setweight(to_tsvector('simple', people), 'B') ||
        setweight(to_tsvector('simple', body), 'D')) STORED
);
CREATE INDEX conversation_search_document ON conversation_search USING gin (document);
