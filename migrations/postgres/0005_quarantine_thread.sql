-- A quarantined message that no parser can read is shown to agents as a
-- conversation: its thread is quarantine.thread_id, looked up from the
-- thread when a conversation is read.
CREATE INDEX quarantine_thread ON quarantine (thread_id) WHERE thread_id IS NOT NULL;
