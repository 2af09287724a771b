-- Sessions, their tags and their messages.
-- Timestamps are integer microseconds since the Unix epoch, UTC.

CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY NOT NULL,
    agent_id           TEXT NOT NULL,
    user_id            TEXT,
    situation          TEXT NOT NULL,
    summary            TEXT,
    metadata           TEXT NOT NULL DEFAULT '{}'
                       CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
    render_templates   INTEGER NOT NULL DEFAULT 0 CHECK (render_templates IN (0, 1)),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    -- JSON array copy of session_tags, so listing needs no extra query per row.
    tags               TEXT NOT NULL DEFAULT '[]'
                       CHECK (json_valid(tags) AND json_type(tags) = 'array'),
    status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended')),
    binding_key        TEXT,
    persona_version    TEXT,
    summarized_through INTEGER
) STRICT;

-- At most one active session per conversation key; ended sessions keep their key.
CREATE UNIQUE INDEX sessions_active_binding ON sessions (binding_key)
    WHERE status = 'active' AND binding_key IS NOT NULL;
CREATE INDEX sessions_binding_key ON sessions (binding_key);
CREATE INDEX sessions_created ON sessions (created_at, id);
CREATE INDEX sessions_updated ON sessions (updated_at, id);

CREATE TABLE session_tags (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    PRIMARY KEY (session_id, tag)
) STRICT, WITHOUT ROWID;

CREATE INDEX session_tags_by_tag ON session_tags (tag, session_id);

-- session_tags follows sessions.tags inside the same statement, so they never disagree.
CREATE TRIGGER sessions_tags_inserted AFTER INSERT ON sessions
BEGIN
    INSERT INTO session_tags (session_id, tag) SELECT NEW.id, value FROM json_each(NEW.tags);
END;

CREATE TRIGGER sessions_tags_updated AFTER UPDATE OF tags ON sessions
WHEN OLD.tags IS NOT NEW.tags
BEGIN
    DELETE FROM session_tags WHERE session_id = NEW.id;
    INSERT INTO session_tags (session_id, tag) SELECT NEW.id, value FROM json_each(NEW.tags);
END;

CREATE TABLE messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id    TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    role          TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    author_id     TEXT,
    author_name   TEXT,
    content       TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    external_id   TEXT,
    tokens        INTEGER NOT NULL CHECK (tokens >= 0),
    tokens_source TEXT NOT NULL CHECK (tokens_source IN ('estimate', 'usage'))
) STRICT;

CREATE INDEX messages_by_session ON messages (session_id, id);
CREATE UNIQUE INDEX messages_external_id ON messages (session_id, external_id)
    WHERE external_id IS NOT NULL;

-- Appending is one statement: these triggers check the session and bump its updated_at.
CREATE TRIGGER messages_require_active_session BEFORE INSERT ON messages
BEGIN
    SELECT CASE (SELECT status FROM sessions WHERE id = NEW.session_id)
        WHEN 'active' THEN NULL
        WHEN 'ended' THEN RAISE(ABORT, 'sessionbot: session ended')
        ELSE RAISE(ABORT, 'sessionbot: session not found')
    END;
END;

CREATE TRIGGER messages_touch_session AFTER INSERT ON messages
BEGIN
    UPDATE sessions SET updated_at = max(updated_at, NEW.created_at) WHERE id = NEW.session_id;
END;
