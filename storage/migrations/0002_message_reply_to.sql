-- Which message a message answers (the engine keeps a reply next to its question even when
-- other messages arrived while it was being written). Plain integer, deliberately not a foreign
-- key: deleting messages must not have to search for replies, and a dangling id is harmless.
ALTER TABLE messages ADD COLUMN reply_to INTEGER;
