-- The search index holds agent replies and notes as well as customer
-- mail, kept current in the transaction that writes each. Its rows are
-- rebuilt once, in Go with the same folding (helpdesk.SearchText), by
-- Store.Migrate while search_reindex has its row: after_id is how far
-- the rebuild got, so an interrupted one resumes; the row goes when it is
-- done, and later starts do nothing.
CREATE TABLE search_reindex (after_id INTEGER NOT NULL);
INSERT INTO search_reindex (after_id) VALUES (0);
