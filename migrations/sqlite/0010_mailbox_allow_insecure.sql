-- A mailbox with IMAP security "none" sends its password unencrypted; to
-- a host other than this machine only when an admin allowed it here.
ALTER TABLE mailboxes ADD COLUMN imap_allow_insecure INTEGER NOT NULL DEFAULT 0;
