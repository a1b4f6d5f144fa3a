-- A thread's HTML as the web's sanitiser made it safe, kept so that a mail
-- is sanitised once and not on every view: one row per thread and view
-- (with or without the remote images the agent allowed). policy is the
-- sanitiser's version; a row of an older version is made again.
CREATE TABLE sanitized_html (
    thread_id      INTEGER NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    remote_images  INTEGER NOT NULL,
    policy         INTEGER NOT NULL,
    html           TEXT NOT NULL,
    remote_blocked INTEGER NOT NULL,
    PRIMARY KEY (thread_id, remote_images)
);
