-- A reply being shown while it is written: where its parts went so far (`target` and `posted`
-- are the front end's own ids). The row is dropped once the reply is shown whole or its failure
-- is; a row left behind by a process that died tells whoever answers the message next what to
-- put right.
CREATE TABLE IF NOT EXISTS reply_drafts (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    message_id INTEGER NOT NULL,
    target     TEXT NOT NULL,
    posted     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (session_id, message_id)
) STRICT;
