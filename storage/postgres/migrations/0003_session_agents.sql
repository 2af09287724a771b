-- Several personas in one session, and the persona each place starts with (as in SQLite's
-- 0007_session_agents.sql). `position` keeps the order the personas joined in.
CREATE TABLE session_agents (
    position   bigint GENERATED ALWAYS AS IDENTITY,
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    agent_id   text NOT NULL,
    added_at   timestamptz NOT NULL,
    PRIMARY KEY (session_id, agent_id)
);

-- Scope keys compare byte by byte (COLLATE "C"), so the range of keys nested under a scope
-- is the same as in SQLite.
CREATE TABLE persona_defaults (
    scope_key  text COLLATE "C" PRIMARY KEY,
    persona_id text NOT NULL,
    set_by     text,
    set_at     timestamptz NOT NULL
);
