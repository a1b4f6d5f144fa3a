-- Optimistic concurrency for agents working together: every change to a
-- conversation sets version to one more, in the change's transaction.
-- Per field, the version at which it last changed and the user who changed
-- it (NULL: the customer's mail), so that a change made on an older page
-- is refused only when the same thing changed meanwhile. thread_* follows
-- customer messages and agents' replies (not notes). The *_by columns keep
-- the id of a deleted user on purpose: no foreign key.
ALTER TABLE conversations
    ADD COLUMN version     BIGINT NOT NULL DEFAULT 1,
    ADD COLUMN status_v    BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN status_by   BIGINT,
    ADD COLUMN assignee_v  BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN assignee_by BIGINT,
    ADD COLUMN thread_v    BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN thread_by   BIGINT,
    ADD COLUMN tags_v      BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN tags_by     BIGINT;

-- The delivery status of a reply is read by its thread.
CREATE INDEX outbox_thread ON outbox (thread_id) WHERE thread_id IS NOT NULL;
