-- Other servers' signing keys, fetched from them or through a notary.

CREATE TABLE server_keys (
    server_name TEXT NOT NULL,
    key_id TEXT NOT NULL,
    -- Unpadded base64 ed25519 public key.
    verify_key TEXT NOT NULL,
    -- Trust the key until then: the response's valid_until_ts, or an old key's expired_ts.
    valid_until_ts BIGINT NOT NULL,
    is_old BOOLEAN NOT NULL,
    fetched_ts BIGINT NOT NULL,
    PRIMARY KEY (server_name, key_id)
);

-- Each server's latest key response as it signed it, served again by the notary API.
CREATE TABLE server_key_responses (
    server_name TEXT PRIMARY KEY,
    response TEXT NOT NULL,
    valid_until_ts BIGINT NOT NULL,
    fetched_ts BIGINT NOT NULL
);
