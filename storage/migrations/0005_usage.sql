-- Usage reports and the daily token budget read a time range of every session of a server (or
-- of the whole database). This index answers them without touching the message rows: per
-- session, the messages since a moment with everything the report adds up.
CREATE INDEX IF NOT EXISTS messages_usage ON messages (session_id, created_at, role, tokens, author_id, reply_to);

-- Messages a limit refused to answer (see the Reliability section of README.md): they stay
-- stored, count as settled, and are not answered later by catch-up. Plain ids, deliberately not
-- a foreign key (message ids are never reused, and deleting messages must not search here).
CREATE TABLE IF NOT EXISTS refused_messages (
    message_id INTEGER PRIMARY KEY NOT NULL
) STRICT;
