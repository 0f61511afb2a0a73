-- Two-factor sign-in (TOTP), browser sessions on Hearth's own pages, and Hearth as an
-- OAuth 2.0 authorization server (clients, authorization and device codes, the grant
-- behind each OAuth device, the key that signs ID tokens).

-- One TOTP secret per account; `confirmed` once a first code proved the enrolment.
CREATE TABLE totp_secrets (
    user_id TEXT PRIMARY KEY REFERENCES users (user_id),
    secret TEXT NOT NULL,
    confirmed BOOLEAN NOT NULL DEFAULT FALSE,
    created_ts BIGINT NOT NULL,
    -- The newest time step a code was accepted for: each code is good once.
    last_step BIGINT NOT NULL DEFAULT 0
);

-- One-time recovery codes (SHA-256 of each); a row is deleted when its code is used.
CREATE TABLE totp_recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (user_id),
    code_hash TEXT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- Sign-ins to Hearth's pages (the hearth_session cookie holds the secret, this its hash).
CREATE TABLE web_sessions (
    session_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (user_id),
    created_ts BIGINT NOT NULL,
    expires_ts BIGINT NOT NULL,
    -- FALSE while the second factor (or its enrolment) is still to come.
    authenticated BOOLEAN NOT NULL,
    -- When the password was checked (OpenID Connect auth_time, in seconds).
    auth_time BIGINT NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);

-- Dynamically registered clients (RFC 7591); identical metadata shares one client ID.
CREATE TABLE oauth_clients (
    client_id TEXT PRIMARY KEY,
    metadata_hash TEXT NOT NULL UNIQUE,
    -- JSON: the registered metadata.
    metadata TEXT NOT NULL,
    created_ts BIGINT NOT NULL
);

-- Authorization codes (stored hashed); `used` is set once, by the one token request
-- that redeems the code.
CREATE TABLE oauth_authorization_codes (
    id BIGSERIAL PRIMARY KEY,
    code_hash TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    expires_ts BIGINT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE
);

-- Device authorizations (RFC 8628): 'pending' until the user approves or denies it,
-- 'used' once its tokens are issued.
CREATE TABLE oauth_device_codes (
    id BIGSERIAL PRIMARY KEY,
    device_code_hash TEXT NOT NULL UNIQUE,
    user_code TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    expires_ts BIGINT NOT NULL,
    last_poll_ts BIGINT,
    status TEXT NOT NULL,
    user_id TEXT,
    auth_time BIGINT
);

-- Devices whose tokens came from an OAuth 2.0 grant: the client, the granted scope and
-- the grant ('code:<id>' or 'device:<id>'); gone with the device.
CREATE TABLE oauth_sessions (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    created_ts BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id),
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);
CREATE INDEX oauth_sessions_client ON oauth_sessions (client_id);

-- The RSA key that signs OpenID Connect ID tokens (one row, made on first use).
CREATE TABLE oauth_signing_keys (
    id INTEGER PRIMARY KEY,
    kid TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_ts BIGINT NOT NULL
);

-- Cross-signing resets approved on the account page (UIA stage m.oauth), until expiry.
CREATE TABLE cross_signing_reset_approvals (
    user_id TEXT PRIMARY KEY REFERENCES users (user_id),
    expires_ts BIGINT NOT NULL
);
