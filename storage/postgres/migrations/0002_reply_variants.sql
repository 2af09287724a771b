-- The alternatives of a reply, as in SQLite's 0006_reply_variants.sql: the message row keeps
-- the chosen text; these rows are only read to swipe between alternatives or to list them.
CREATE TABLE message_variants (
    message_id    bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    idx           integer NOT NULL CHECK (idx >= 0),
    content       text NOT NULL,
    tokens        bigint NOT NULL CHECK (tokens >= 0),
    tokens_source text NOT NULL CHECK (tokens_source IN ('estimate', 'usage')),
    created_at    timestamptz NOT NULL,
    chosen        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (message_id, idx)
);
