-- When a mail failed for good: set by FailOutbox, cleared by a manual
-- retry. Mails that failed before this migration keep NULL (not known).
ALTER TABLE outbox ADD COLUMN failed_at TIMESTAMP;

-- The status page's queries (counts by status, oldest pending, newest
-- failed, last error) read one status at a time from here instead of
-- scanning the outbox, most of which is sent mail. The counts still read
-- every entry, but of this narrow index, not the table.
CREATE INDEX outbox_status ON outbox (status, id);
