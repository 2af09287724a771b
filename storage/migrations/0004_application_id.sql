-- Marks the file as a sessionbot database (storage.migrate.APPLICATION_ID, "SBOT"), so that a
-- database of another program is refused instead of being given sessionbot's tables.
PRAGMA application_id = 1396854612;
