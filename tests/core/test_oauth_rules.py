"""The spec's OAuth 2.0 rules: scopes, client URIs and redirect URI validation (its own examples)."""

from __future__ import annotations

import pytest

from homeserver.core.oauth import (
    OAuthRuleError,
    check_client_uri,
    check_redirect_uri,
    check_related_uri,
    parse_scope,
    redirect_uri_matches,
)

CLIENT = "https://example.com/"


def test_stable_and_msc2967_scopes():
    scope = parse_scope("urn:matrix:client:api:* urn:matrix:client:device:AAABBBCCCDDD")
    assert scope.device_id == "AAABBBCCCDDD" and not scope.openid
    old = parse_scope("openid urn:matrix:org.matrix.msc2967.client:api:* urn:matrix:org.matrix.msc2967.client:device:x~Y")
    assert old.device_id == "x~Y" and old.openid


@pytest.mark.parametrize("scope", [
    None, "", "urn:matrix:client:device:ABC", "urn:matrix:client:api:*",
    "urn:matrix:client:api:* urn:matrix:client:device:A urn:matrix:client:device:B",
    "urn:matrix:client:api:* urn:matrix:client:device:",
    "urn:matrix:client:api:* urn:matrix:client:device:a/b",
    "urn:matrix:client:api:* urn:matrix:client:device:ABC urn:synapse:admin:*",
])
def test_bad_scopes(scope):
    with pytest.raises(OAuthRuleError):
        parse_scope(scope)


@pytest.mark.parametrize("uri", ["https://example.com/callback", "https://app.example.com/callback",
                                 "https://example.com:5173/?query=value"])
def test_valid_web_redirect_uris(uri):
    check_redirect_uri(uri, application_type="web", client_uri=CLIENT)


@pytest.mark.parametrize("uri", ["https://example.com/callback#fragment", "http://example.com/callback",
                                 "http://localhost/", "https://user:pw@example.com/", "https://evil.com/",
                                 "https://notexample.com/", "com.example.app:/callback"])
def test_invalid_web_redirect_uris(uri):
    with pytest.raises(OAuthRuleError):
        check_redirect_uri(uri, application_type="web", client_uri=CLIENT)


@pytest.mark.parametrize("uri", ["com.example.app:/callback", "com.example:/", "com.example:callback",
                                 "http://localhost/callback", "http://127.0.0.1/callback", "http://[::1]/callback",
                                 "https://example.com/callback"])
def test_valid_native_redirect_uris(uri):
    check_redirect_uri(uri, application_type="native", client_uri=CLIENT)


@pytest.mark.parametrize("uri", ["example:/callback", "com.example.app://callback", "https://localhost/callback",
                                 "http://localhost:1234/callback", "http://example.com/callback",
                                 "com.examplex:/callback", "com.example.app:/callback#frag"])
def test_invalid_native_redirect_uris(uri):
    with pytest.raises(OAuthRuleError):
        check_redirect_uri(uri, application_type="native", client_uri=CLIENT)


def test_loopback_redirects_match_any_port_for_native_clients_only():
    registered = ["http://127.0.0.1/callback"]
    assert redirect_uri_matches("http://127.0.0.1:43210/callback", registered, application_type="native")
    assert not redirect_uri_matches("http://127.0.0.1:43210/callback", registered, application_type="web")
    assert not redirect_uri_matches("http://127.0.0.1:43210/other", registered, application_type="native")
    assert not redirect_uri_matches("http://127.0.0.1:bad/callback", registered, application_type="native")
    assert redirect_uri_matches("https://example.com/cb", ["https://example.com/cb"], application_type="web")
    assert not redirect_uri_matches("https://example.com/cb2", ["https://example.com/cb"], application_type="web")


def test_client_uri_rules():
    assert check_client_uri(CLIENT) == CLIENT
    check_client_uri("http://localhost:8080/")  # clients under development, on loopback only
    for bad in (None, "", 5, "http://example.com/", "https://user:pw@example.com/", "https:///path",
                "https://example.com/#x", "not a uri"):
        with pytest.raises(OAuthRuleError):
            check_client_uri(bad)
    check_related_uri("logo_uri", "https://cdn.example.com/logo.png", CLIENT)
    with pytest.raises(OAuthRuleError):
        check_related_uri("tos_uri", "https://app.com/tos", CLIENT)
