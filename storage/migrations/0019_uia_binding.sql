-- A user-interactive-auth session is bound to the request it authorises and used once.
-- Sessions in progress are dropped (clients start a new flow), and with them every
-- registration-token use they held.
DELETE FROM uia_sessions;
UPDATE registration_tokens SET pending = 0;
-- SHA-256 of the request body without its auth dict, fixed by the first completed stage.
ALTER TABLE uia_sessions ADD COLUMN request_hash TEXT;
-- Set once, by the request that performs the operation.
ALTER TABLE uia_sessions ADD COLUMN consumed BOOLEAN NOT NULL DEFAULT FALSE;
-- The registration token whose use the session holds (one at most).
ALTER TABLE uia_sessions ADD COLUMN registration_token TEXT;
