-- What each user's media takes against media.user_quota: the sizes of their media
-- plus the bytes reserved by uploads still in flight. Uploads reserve their bytes
-- with one conditional UPDATE of this row before writing anything, so concurrent
-- uploads cannot pass the quota together.
CREATE TABLE media_usage (
    user_id TEXT PRIMARY KEY,
    bytes BIGINT NOT NULL
);
INSERT INTO media_usage (user_id, bytes)
    SELECT user_id, SUM(size) FROM media WHERE size IS NOT NULL GROUP BY user_id;

-- Bytes reserved by an upload in flight: turned into the media's own size when it is
-- stored, given back when it fails, and given back after expires_ts if the server
-- stopped in between.
CREATE TABLE media_reservations (
    reservation_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    expires_ts BIGINT NOT NULL
);
CREATE INDEX media_reservations_expiry ON media_reservations (expires_ts);
