-- The mailboxes' version: bumped in the same transaction as every write to
-- a mailbox or its folders, so the fetch service notices a change with one
-- cheap read per tick instead of reading every mailbox.
CREATE TABLE mailboxes_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO mailboxes_version (id, version) VALUES (1, 0);
