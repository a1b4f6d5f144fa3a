-- Unread per agent, the folders and the "waiting since" sort of the
-- conversation list (store/conversationlist.go).
-- customer_v is the version at which the newest customer message arrived
-- (0: none yet); an agent has read a conversation while their read_v is at
-- least its customer_v. waiting_since is when the oldest customer message
-- after the last reply arrived; NULL when answered.
ALTER TABLE conversations ADD COLUMN customer_v INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN waiting_since TIMESTAMP;
UPDATE conversations SET customer_v = version
WHERE EXISTS (SELECT 1 FROM threads t WHERE t.conversation_id = conversations.id AND t.kind = 'customer');
UPDATE conversations SET waiting_since = (SELECT MIN(t.created_at) FROM threads t
	WHERE t.conversation_id = conversations.id AND t.kind = 'customer'
	AND t.id > COALESCE((SELECT MAX(r.id) FROM threads r WHERE r.conversation_id = conversations.id AND r.kind = 'reply'), 0));

CREATE TABLE conversation_reads (
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    read_v          INTEGER NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
);

-- Counts per folder and status read this index only (INDEXED BY). Its
-- extra condition, which only the counts state, keeps SQLite from
-- choosing it for a page, which it then sorted whole.
CREATE INDEX conversations_folders ON conversations (mailbox_id, status, assignee_id, customer_v)
WHERE merged_into IS NULL AND customer_v >= 0;
-- The open folders' pages, newest message first.
CREATE INDEX conversations_open ON conversations (mailbox_id, last_message_at DESC, id DESC)
WHERE merged_into IS NULL AND status IN ('active', 'pending');
-- The same by id, for the conversations an agent read (folder-reads,
-- INDEXED BY): read without the table's wide rows.
CREATE INDEX conversations_read_state ON conversations (id, mailbox_id, status, assignee_id, customer_v) WHERE merged_into IS NULL;
CREATE INDEX conversations_created ON conversations (created_at DESC, id DESC) WHERE merged_into IS NULL;
-- Waiting ones first, NULLs (answered) last: SQLite sorts NULLs first.
CREATE INDEX conversations_waiting ON conversations (waiting_since IS NULL, waiting_since, id) WHERE merged_into IS NULL;
CREATE INDEX conversations_mailbox_waiting ON conversations (mailbox_id, waiting_since IS NULL, waiting_since, id) WHERE merged_into IS NULL;
