-- PostgreSQL's own texts of queries in ../conversations.sql.

-- name: conversation-tags
SELECT ct.conversation_id, tg.name FROM conversation_tags ct JOIN tags tg ON tg.id = ct.tag_id
WHERE ct.conversation_id = ANY(?) ORDER BY tg.name

-- name: sanitized-html
SELECT s.thread_id, s.remote_images, s.policy, s.html, s.remote_blocked
FROM sanitized_html s JOIN threads t ON t.id = s.thread_id JOIN conversations c ON c.id = t.conversation_id
WHERE s.thread_id = ANY(?) AND s.remote_images = ? AND s.policy = ?
AND (? OR c.mailbox_id IN (SELECT um.mailbox_id FROM user_mailboxes um WHERE um.user_id = ?))
