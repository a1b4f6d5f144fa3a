-- The highest UID a folder held when the fetcher first selected it (or
-- selected it again under a new UIDVALIDITY): mail up to it is the
-- folder's first import, stored without notifications or auto-acks.
-- 0 for folders fetched before this column: their import is long done.
ALTER TABLE fetch_state ADD COLUMN import_uid BIGINT NOT NULL DEFAULT 0;
