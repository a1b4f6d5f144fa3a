-- PostgreSQL's own texts of queries in ../conversations.sql.

-- name: conversation-tags
SELECT ct.conversation_id, tg.name FROM conversation_tags ct JOIN tags tg ON tg.id = ct.tag_id
WHERE ct.conversation_id = ANY(?) ORDER BY tg.name
