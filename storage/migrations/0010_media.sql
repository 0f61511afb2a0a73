-- The media repository: one row per media ID; the bytes live on disk under
-- their SHA-256, so identical uploads share one file.

CREATE TABLE media (
    media_id TEXT PRIMARY KEY,
    -- The uploader.
    user_id TEXT NOT NULL,
    content_type TEXT,
    upload_name TEXT,
    -- NULL until the content arrives (media created with /create).
    size BIGINT,
    sha256 TEXT,
    created_ts BIGINT NOT NULL,
    -- When a created-but-empty media ID stops waiting for its upload.
    pending_expires_ts BIGINT,
    quarantined BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX media_user ON media (user_id, created_ts);
CREATE INDEX media_sha256 ON media (sha256);

-- Thumbnails made on demand, kept for the next request.
CREATE TABLE media_thumbnails (
    media_id TEXT NOT NULL REFERENCES media (media_id) ON DELETE CASCADE,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    method TEXT NOT NULL,
    animated BOOLEAN NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (media_id, width, height, method, animated)
);
CREATE INDEX media_thumbnails_sha256 ON media_thumbnails (sha256);
