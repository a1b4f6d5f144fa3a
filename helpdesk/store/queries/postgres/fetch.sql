-- PostgreSQL's own texts of queries in ../fetch.sql, and the inserts over
-- arrays that write a group commit's rows of one table in one statement.

-- name: lock-fence
-- Holds the fence row until commit, so a newer holder's claim waits.
SELECT m.id, m.name, m.email, m.auto_ack, f.fence FROM mailboxes m
JOIN mailbox_fences f ON f.mailbox_id = m.id WHERE m.id = ? FOR UPDATE OF f

-- name: seen-uids
SELECT uid, outcome FROM fetch_ledger WHERE mailbox_id = ? AND folder = ? AND uidvalidity = ? AND uid = ANY(?)

-- name: stored-dedup-keys
SELECT dedup_key FROM fetch_ledger WHERE mailbox_id = ? AND outcome = 'new' AND dedup_key = ANY(?)

-- name: conversation-by-references
SELECT t.conversation_id FROM threads t
JOIN conversations c ON c.id = t.conversation_id
WHERE c.mailbox_id = ? AND t.message_id = ANY(?)
ORDER BY t.id DESC LIMIT 1

-- name: follow-merged
SELECT COALESCE(merged_into, id) FROM conversations WHERE id = ? FOR UPDATE

-- name: insert-raw-messages
INSERT INTO raw_messages (id, size, gzipped)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[])

-- name: insert-threads
INSERT INTO threads (id, conversation_id, kind, message_id, in_reply_to, from_email, from_name, to_addrs, cc_addrs,
	subject, body_text, body_html, auto_reply, raw_id, created_at, mail_date)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
	$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bool[], $14::bigint[], $15::timestamptz[],
	$16::timestamptz[])

-- name: insert-attachments
INSERT INTO attachments (thread_id, filename, content_type, content_id, inline, size, data)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::bigint[], $7::bytea[])

-- name: insert-participants
INSERT INTO conversation_participants (conversation_id, email)
SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING

-- name: insert-quarantines
INSERT INTO quarantine (mailbox_id, folder, uidvalidity, uid, reason, size, raw_complete, raw_id, thread_id, status,
	created_at, updated_at)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::bool[],
	$8::bigint[], $9::bigint[], $10::text[], $11::timestamptz[], $12::timestamptz[])

-- name: insert-ledgers
INSERT INTO fetch_ledger (mailbox_id, folder, uidvalidity, uid, dedup_key, outcome, thread_id, fence, created_at)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::bigint[],
	$8::bigint[], $9::timestamptz[])
ON CONFLICT (mailbox_id, folder, uidvalidity, uid) DO UPDATE SET
	dedup_key = excluded.dedup_key, outcome = excluded.outcome, thread_id = excluded.thread_id, fence = excluded.fence

-- name: insert-outboxes
INSERT INTO outbox (dedup_key, kind, mailbox_id, thread_id, from_addr, to_addrs, subject, body_text, headers,
	message_id, status, attempts, next_attempt_at, created_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[],
	$8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::timestamptz[], $14::timestamptz[])
ON CONFLICT (dedup_key) DO NOTHING

-- name: insert-search
INSERT INTO conversation_search (conversation_id, subject, people, body) VALUES (?, ?, ?, ?)

-- name: insert-searches
INSERT INTO conversation_search (conversation_id, subject, people, body)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])

-- name: insert-events
-- In array order: each row's placeholder id, and so its id at commit
-- (migration 0012), follows the order of the rows.
INSERT INTO events (name, mailbox_id, conversation_id, thread_id, created_at)
SELECT name, mailbox_id, conversation_id, thread_id, created_at
FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::timestamptz[])
	WITH ORDINALITY AS e(name, mailbox_id, conversation_id, thread_id, created_at, n)
ORDER BY n

-- name: take-ids
-- The next ids of a table (a constant name), from its sequence.
SELECT nextval(pg_get_serial_sequence(?, 'id')) FROM generate_series(1, ?)
