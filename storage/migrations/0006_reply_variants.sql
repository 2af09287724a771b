-- The alternatives of a reply (regenerated replies, a persona's alternate greetings). The
-- message row keeps the chosen text, so context building and exports read messages alone;
-- these rows are only read to swipe between alternatives or to list them.
CREATE TABLE IF NOT EXISTS message_variants (
    message_id    INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    idx           INTEGER NOT NULL CHECK (idx >= 0),
    content       TEXT NOT NULL,
    tokens        INTEGER NOT NULL CHECK (tokens >= 0),
    tokens_source TEXT NOT NULL CHECK (tokens_source IN ('estimate', 'usage')),
    created_at    INTEGER NOT NULL,
    chosen        INTEGER NOT NULL DEFAULT 0 CHECK (chosen IN (0, 1)),
    PRIMARY KEY (message_id, idx)
) STRICT, WITHOUT ROWID;
