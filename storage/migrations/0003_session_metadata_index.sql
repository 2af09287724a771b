-- One row per top-level metadata key of every session, so a metadata filter is an index
-- lookup instead of a scan of every session's JSON. `atom` is the JSON value for scalars and the
-- canonical JSON text for objects and arrays; `type` is json_each's type, so that the string
-- "1234" never matches the number 1234 and true never matches 1.

CREATE TABLE session_metadata (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    type       TEXT NOT NULL,
    atom       ANY,
    PRIMARY KEY (session_id, key)
) STRICT, WITHOUT ROWID;

CREATE INDEX session_metadata_by_value ON session_metadata (key, type, atom, session_id);

INSERT INTO session_metadata (session_id, key, type, atom)
    SELECT s.id, m.key, m.type,
           CASE WHEN m.type IN ('object', 'array') THEN m.value ELSE m.atom END
    FROM sessions AS s, json_each(s.metadata) AS m;

CREATE TRIGGER sessions_metadata_inserted AFTER INSERT ON sessions
BEGIN
    INSERT INTO session_metadata (session_id, key, type, atom)
        SELECT NEW.id, key, type, CASE WHEN type IN ('object', 'array') THEN value ELSE atom END
        FROM json_each(NEW.metadata);
END;

CREATE TRIGGER sessions_metadata_updated AFTER UPDATE OF metadata ON sessions
WHEN OLD.metadata IS NOT NEW.metadata
BEGIN
    DELETE FROM session_metadata WHERE session_id = NEW.id;
    INSERT INTO session_metadata (session_id, key, type, atom)
        SELECT NEW.id, key, type, CASE WHEN type IN ('object', 'array') THEN value ELSE atom END
        FROM json_each(NEW.metadata);
END;
