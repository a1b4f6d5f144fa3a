-- The reply composer: CC and BCC, an HTML alternative rendered from the
-- agent's Markdown, and attachments. An outbox row keeps all it is sent
-- with, the attachments by reference (attachments are never changed), so
-- a resend after a crash sends the same message; attachment_count lets
-- the notifier refuse to send one whose attachment has gone.
ALTER TABLE outbox ADD COLUMN cc_addrs TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN bcc_addrs TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN body_html TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN attachment_count INTEGER NOT NULL DEFAULT 0;
CREATE TABLE outbox_attachments (
    outbox_id     INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    attachment_id INTEGER NOT NULL REFERENCES attachments(id) ON DELETE CASCADE,
    PRIMARY KEY (outbox_id, attachment_id)
);
CREATE INDEX outbox_attachments_attachment ON outbox_attachments (attachment_id);
-- Whom an agent's reply went to in blind copy: shown to agents, never mailed.
ALTER TABLE threads ADD COLUMN bcc_addrs TEXT NOT NULL DEFAULT '';
