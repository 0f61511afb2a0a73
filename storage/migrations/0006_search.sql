-- Full-text search over room events: SQLite FTS5 or PostgreSQL tsvector.

-- dialect: sqlite
CREATE VIRTUAL TABLE event_search USING fts5(
    event_id UNINDEXED,
    room_id UNINDEXED,
    key UNINDEXED,
    stream_ordering UNINDEXED,
    value,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- dialect: postgres
CREATE TABLE event_search (
    event_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    key TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    value TEXT NOT NULL,
    vector TSVECTOR NOT NULL
);
CREATE INDEX event_search_vector ON event_search USING GIN (vector);
CREATE INDEX event_search_event ON event_search (event_id);
