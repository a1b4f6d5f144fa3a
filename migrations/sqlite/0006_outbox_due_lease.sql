-- The claim walks the due pending rows in next_attempt_at order, LIMIT at a
-- time (INDEXED BY outbox_due in claim-outbox). With lease_until in the
-- index it skips the rows other claims hold without reading them from the
-- table, and reads nothing past the rows it takes. (SQLite's planner,
-- without statistics, took outbox_status instead: every pending row read,
-- bodies included, and sorted, for each claim.)
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (next_attempt_at, lease_until) WHERE status = 'pending';
