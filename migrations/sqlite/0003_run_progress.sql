-- How far a long fetch (a first import) has got through a folder: one row
-- per mailbox, written by the run under its fence about once a batch and
-- deleted when the run finishes. A row whose fence is not the mailbox's
-- current one is left by a holder that lost its lease, and is not shown.
CREATE TABLE run_progress (
    mailbox_id INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    fence      INTEGER NOT NULL,
    folder     TEXT NOT NULL,
    done       INTEGER NOT NULL,
    total      INTEGER NOT NULL,
    started_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
