"""Configuration loading: the sample stays true, and mistakes give one clear line."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest
import yaml

from homeserver.config import Config, ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent


def test_sample_config_loads_and_matches_defaults():
    config = load_config(ROOT / "config.sample.yaml")
    defaults = parse_config({"server_name": "example.org"}, config_dir=config.config_dir)
    assert config == defaults


def _keys(tp: type, prefix: str = "") -> set[str]:
    keys = set()
    hints = typing.get_type_hints(tp)
    for f in dataclasses.fields(tp):
        if f.metadata.get("internal"):
            continue
        path = f"{prefix}{f.name}"
        keys.add(path)
        if dataclasses.is_dataclass(hints[f.name]):
            keys |= _keys(hints[f.name], path + ".")
    return keys


def _yaml_keys(data: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in data.items():
        keys.add(prefix + key)
        if isinstance(value, dict):
            keys |= _yaml_keys(value, prefix + key + ".")
    return keys


def test_sample_documents_every_key():
    sample = yaml.safe_load((ROOT / "config.sample.yaml").read_text())
    assert _keys(Config) == _yaml_keys(sample)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"server_name": "a", "colour": 1}, "colour: unknown key"),
        ({"server_name": "a", "listen": {"port": "x"}}, "listen.port: expected an integer, got 'x'"),
        ({"server_name": "a", "listen": {"prot": 1}}, "listen.prot: unknown key"),
        ({}, "server_name: required key is missing"),
        ({"server_name": "a", "rate_limits": {"enabled": "yes"}}, "rate_limits.enabled: expected true or false"),
        ({"server_name": "a", "logging": {"level": "loud"}}, "logging.level: must be one of"),
        ({"server_name": "a", "rooms": {"default_version": "99"}}, "rooms.default_version: unknown room version"),
        ({"server_name": "a", "database": {"url": "mysql://x"}}, "database.url: must start with"),
        ({"server_name": "a", "listen": {"bind_addresses": "0.0.0.0"}}, "listen.bind_addresses: expected a list"),
        ({"server_name": "bad name!"}, "server_name:"),
        ({"server_name": "a", "outbound": {"deny_ranges": ["localhost"]}},
         "outbound.deny_ranges[0]: 'localhost' is not a CIDR range"),
        ({"server_name": "a", "outbound": {"allow_ranges": ["::1/128", "10.0.0.1/8"]}},
         "outbound.allow_ranges[1]: '10.0.0.1/8' is not a CIDR range (10.0.0.1/8 has host bits set)"),
        ({"server_name": "a", "outbound": {"allow_ranges": "127.0.0.0/8"}}, "outbound.allow_ranges: expected a list"),
        ({"server_name": "a", "listen": {"header_timeout": 0}}, "listen: header_timeout, body_timeout"),
        ({"server_name": "a", "turn": {"uris": ["stun:x:3478"], "shared_secret": "s"}},
         "turn.uris[0]: 'stun:x:3478' is not a turn: or turns: URI"),
        ({"server_name": "a", "turn": {"uris": ["turn:x:3478"]}}, "turn: uris needs shared_secret"),
        ({"server_name": "a", "well_known": {"rtc_foci": [{"type": "livekit", "livekit_service_url": "http://x"}]}},
         "well_known.rtc_foci[0]: a livekit focus needs an https livekit_service_url"),
        ({"server_name": "a", "turn": {"user_lifetime": 5}}, "turn.user_lifetime: must be at least 60 seconds"),
        ({"server_name": "a", "listen": {"max_connections_per_address": 0}},
         "listen.max_connections_per_address: must be at least 1"),
        ({"server_name": "a", "public_baseurl": "http://matrix.example.org/", "oauth": {"enabled": True}},
         "public_baseurl: oauth.enabled needs an https URL"),
        ({"server_name": "a", "public_baseurl": "http://localhost.evil.net/", "oauth": {"enabled": True}},
         "public_baseurl: oauth.enabled needs an https URL"),
        ({"server_name": "a", "oauth": {"device_code_interval": 0}}, "oauth.device_code_interval: must be at least 1"),
        ({"server_name": "a", "auth": {"two_factor": {"required_for": "some"}}},
         "auth.two_factor.required_for: must be one of"),
        ({"server_name": "a", "auth": {"web_session_lifetime": 5}}, "auth.web_session_lifetime: must be at least 60"),
    ],
)
def test_config_errors_name_the_key(data, message):
    with pytest.raises(ConfigError) as e:
        parse_config(data)
    assert message in str(e.value)


def test_secret_from_environment(monkeypatch):
    monkeypatch.setenv("HEARTH_TEST_SECRET", "s3cret")
    config = parse_config({"server_name": "a", "registration": {"shared_secret": "${HEARTH_TEST_SECRET}"}})
    assert config.registration.shared_secret == "s3cret"


def test_missing_environment_variable_names_key(monkeypatch):
    monkeypatch.delenv("HEARTH_NOPE", raising=False)
    with pytest.raises(ConfigError, match="registration.shared_secret: environment variable HEARTH_NOPE is not set"):
        parse_config({"server_name": "a", "registration": {"shared_secret": "${HEARTH_NOPE}"}})


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("server_name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_federation_addresses_and_ca_bundle_are_checked(tmp_path):
    from homeserver.config import ConfigError, parse_config

    base = {"server_name": "a.test"}
    config = parse_config({**base, "federation": {"server_addresses": {"b.test": "127.0.0.1:8449"}}})
    assert config.federation.server_addresses == {"b.test": "127.0.0.1:8449"}
    for bad, message in (
        ({"server_addresses": {"b.test": "127.0.0.1"}}, "federation.server_addresses.b.test"),
        ({"server_addresses": ["b.test"]}, "federation.server_addresses: expected a mapping"),
        ({"ca_bundle_path": "missing.pem"}, "federation.ca_bundle_path"),
    ):
        try:
            parse_config({**base, "federation": bad}, config_dir=str(tmp_path))
        except ConfigError as e:
            assert message in str(e)
        else:
            raise AssertionError(f"accepted {bad}")
