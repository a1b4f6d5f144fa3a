-- A thread's HTML as the web's sanitiser made it safe, kept so that a mail
-- is sanitised once and not on every view: one row per thread and view
-- (with or without the remote images the agent allowed). policy is the
-- sanitiser's version; a row of an older version is made again.
CREATE TABLE sanitized_html (
    thread_id      BIGINT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    remote_images  BOOLEAN NOT NULL,
    policy         INTEGER NOT NULL,
    html           TEXT NOT NULL,
    remote_blocked BOOLEAN NOT NULL,
    PRIMARY KEY (thread_id, remote_images)
);

-- As the mail text (0002): LZ4 where the server has it.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE sanitized_html ALTER COLUMN html SET COMPRESSION lz4;
    END IF;
END $$;
