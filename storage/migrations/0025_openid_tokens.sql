-- OpenID tokens (client-server "OpenID"): a user proves who they are to a widget or call
-- app, which checks the token at /_matrix/federation/v1/openid/userinfo. Stored hashed
-- (SHA-256); a token is good for nothing else and expires after an hour.
CREATE TABLE openid_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (user_id),
    expires_ts BIGINT NOT NULL
);
CREATE INDEX openid_tokens_expiry ON openid_tokens (expires_ts);
