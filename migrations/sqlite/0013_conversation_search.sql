-- Full-text search: per conversation (rowid = conversations.id) its
-- subject, customer (name and address) and message bodies as folded words
-- (helpdesk.SearchText: case and accents folded in Go, German ü → ue
-- beside), kept current in the ingest transaction. FTS5 ranks with bm25,
-- a subject match above the customer above a body (conversationlist.sql).
-- Existing conversations are indexed by Store.Migrate (IndexSearch), in
-- Go, with the same folding. Deleted conversations leave their row, which
-- the list's join drops.
CREATE VIRTUAL TABLE conversation_search USING fts5 (subject, people, body, tokenize = 'unicode61 remove_diacritics 0');
