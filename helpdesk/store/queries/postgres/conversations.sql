-- PostgreSQL's own texts of queries in ../conversations.sql.

-- name: conversation-tags
SELECT ct.conversation_id, tg.name FROM conversation_tags ct JOIN tags tg ON tg.id = ct.tag_id
WHERE ct.conversation_id = ANY(?) ORDER BY tg.name

-- name: conversation-reads
SELECT conversation_id, read_v FROM conversation_reads WHERE user_id = ? AND conversation_id = ANY(?)

-- name: sanitized-html
SELECT s.thread_id, s.remote_images, s.policy, s.html, s.remote_blocked
FROM sanitized_html s JOIN threads t ON t.id = s.thread_id JOIN conversations c ON c.id = t.conversation_id
WHERE s.thread_id = ANY(?) AND s.remote_images = ? AND s.policy = ?
AND (? OR c.mailbox_id IN (SELECT um.mailbox_id FROM user_mailboxes um WHERE um.user_id = ?))

-- name: conversation-versions
SELECT c.version, c.status, c.assignee_id, c.last_message_at, c.preview,
	c.status_v, c.status_by, su.name AS status_by_name,
	c.assignee_v, c.assignee_by, au.name AS assignee_by_name,
	c.thread_v, c.thread_by, tu.name AS thread_by_name,
	c.tags_v, c.tags_by, gu.name AS tags_by_name
FROM conversations c
LEFT JOIN users su ON su.id = c.status_by
LEFT JOIN users au ON au.id = c.assignee_by
LEFT JOIN users tu ON tu.id = c.thread_by
LEFT JOIN users gu ON gu.id = c.tags_by
WHERE c.id = ? FOR UPDATE OF c
