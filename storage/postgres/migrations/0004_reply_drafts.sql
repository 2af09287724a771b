-- A reply being shown while it is written (as in SQLite's 0008_reply_drafts.sql).
CREATE TABLE reply_drafts (
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    message_id bigint NOT NULL,
    target     text NOT NULL,
    posted     text[] NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (session_id, message_id)
);
