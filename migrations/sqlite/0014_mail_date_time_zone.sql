-- The Date header of a customer's mail, shown beside the time it was
-- received; NULL for replies, notes, a mail without a usable Date and the
-- mail fetched before this column.
ALTER TABLE threads ADD COLUMN mail_date TIMESTAMP;

-- The IANA time zone (e.g. Europe/Berlin) in which the user sees times.
ALTER TABLE users ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
