-- Unread per agent, the folders and the "waiting since" sort of the
-- conversation list (store/conversationlist.go).
-- customer_v is the version at which the newest customer message arrived
-- (0: none yet); an agent has read a conversation while their read_v is at
-- least its customer_v. waiting_since is when the oldest customer message
-- after the last reply arrived; NULL when answered.
ALTER TABLE conversations ADD COLUMN customer_v BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN waiting_since TIMESTAMPTZ;
UPDATE conversations c SET customer_v = c.version
WHERE EXISTS (SELECT 1 FROM threads t WHERE t.conversation_id = c.id AND t.kind = 'customer');
UPDATE conversations c SET waiting_since = (SELECT MIN(t.created_at) FROM threads t
	WHERE t.conversation_id = c.id AND t.kind = 'customer'
	AND t.id > COALESCE((SELECT MAX(r.id) FROM threads r WHERE r.conversation_id = c.id AND r.kind = 'reply'), 0));

CREATE TABLE conversation_reads (
    user_id         BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    read_v          BIGINT NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
);

-- Counts per folder and status read this index only.
CREATE INDEX conversations_folders ON conversations (mailbox_id, status, assignee_id, customer_v) WHERE merged_into IS NULL;
CREATE INDEX conversations_created ON conversations (created_at DESC, id DESC) WHERE merged_into IS NULL;
CREATE INDEX conversations_waiting ON conversations (waiting_since, id) WHERE merged_into IS NULL;
