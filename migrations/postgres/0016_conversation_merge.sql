-- A merged conversation keeps its row, pointing at the conversation its
-- threads, participants and tags moved into, so that its links and API
-- reads lead there. It never points at a merged one: a merge re-points
-- the ones merged into its source. Lists and counts leave merged ones
-- out, so their indexes cover only the others.
ALTER TABLE conversations ADD COLUMN merged_into BIGINT REFERENCES conversations(id);
CREATE INDEX conversations_merged_into ON conversations (merged_into) WHERE merged_into IS NOT NULL;
DROP INDEX conversations_list;
CREATE INDEX conversations_list ON conversations (mailbox_id, status, last_message_at DESC, id DESC) WHERE merged_into IS NULL;
DROP INDEX conversations_recent;
CREATE INDEX conversations_recent ON conversations (last_message_at DESC, id DESC) WHERE merged_into IS NULL;
