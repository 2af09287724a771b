-- Several personas in one session: the personas besides the session's main one (its agent_id),
-- in the order they joined (rowid). Julep's multi-agent sessions list them all as `agents`.
CREATE TABLE IF NOT EXISTS session_agents (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    agent_id   TEXT NOT NULL,
    added_at   INTEGER NOT NULL,
    PRIMARY KEY (session_id, agent_id)
) STRICT;

-- Which persona a mention or a direct message starts with in a place (a server, a channel):
-- scope keys are chosen by the front end, e.g. `discord:guild:<id>` and, under it,
-- `discord:guild:<id>/channel:<id>`.
CREATE TABLE IF NOT EXISTS persona_defaults (
    scope_key  TEXT PRIMARY KEY NOT NULL,
    persona_id TEXT NOT NULL,
    set_by     TEXT,
    set_at     INTEGER NOT NULL
) STRICT;
