-- PostgreSQL's own pieces of ../conversationlist.sql.

-- name: search
-- ILIKE: PostgreSQL's LIKE is case-sensitive.
AND (c.subject ILIKE ? ESCAPE '\' OR cu.email ILIKE ? ESCAPE '\' OR cu.name ILIKE ? ESCAPE '\'
	OR EXISTS (SELECT 1 FROM threads th WHERE th.conversation_id = c.id AND th.body_text ILIKE ? ESCAPE '\'))
