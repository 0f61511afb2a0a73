-- The current join rule of each room, kept beside its state for cheap queries
-- (user directory: "users in public rooms").
ALTER TABLE rooms ADD COLUMN join_rule TEXT;
