"""Server keys: publishing ours, fetching and caching others', and the notary API.

Design note: a key is looked up for a moment in time (now, for request
signatures; an event's timestamp, for events of room versions that require
it). A cached key serves while its ``valid_until_ts`` covers that moment;
otherwise the server is asked directly (``/_matrix/key/v2/server``), then each
configured notary (``/_matrix/key/v2/query``), and whatever verifies is cached.
A response must be signed by every key it lists as current, and a notary's
answer must also carry the notary's own signature by a key we already trust.

Any caller can make us fetch keys (an inbound request names its origin before
it is verified), so at most :data:`KEY_FETCH_CONCURRENCY` fetches for checking
requests and events run at once: the rest of the connection pool stays with
real federation. Serving the notary API (``/_matrix/key/v2/query``, open to
anyone) is work for strangers too, so it is bounded apart from real federation: it uses its own
client (own connection pool, one request per destination at a time), at most
:data:`NOTARY_CONCURRENCY` fetches run at once across all queries, one query
names at most :data:`NOTARY_MAX_SERVERS` servers and fetches afresh at most
:data:`NOTARY_MAX_FETCHES` of them (the others are answered from the cache).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import structlog
from nacl.signing import VerifyKey

from federation.client import FederationClient, FederationError
from homeserver.clock import Clock
from homeserver.core.server_keys import (
    InvalidKeyResponse,
    check_notary_signature,
    own_key_response,
    parse_key_response,
)
from homeserver.core.encoding import encode_base64
from homeserver.core.signing import ServerSigningKey, decode_verify_key, sign_json
from homeserver.errors import MatrixError
from homeserver.services.ports import KeyUnavailable
from storage.server_keys import ServerKeyStore

logger = structlog.get_logger(__name__)

#: How long others may cache our key response.
OWN_KEY_VALIDITY_MS = 24 * 60 * 60 * 1000
#: Seconds a key fetch may take (a slow server must not hold up request checks for long).
KEY_FETCH_TIMEOUT_S = 10.0
#: Key fetches (for checking requests and events) in flight at once.
KEY_FETCH_CONCURRENCY = 20
#: Servers one notary query may name.
NOTARY_MAX_SERVERS = 100
#: Servers one notary query may make us ask afresh.
NOTARY_MAX_FETCHES = 10
#: Notary fetches in flight at once, across all queries.
NOTARY_CONCURRENCY = 10


class KeyRing:
    def __init__(
        self,
        *,
        server_name: str,
        signing_key: ServerSigningKey,
        store: ServerKeyStore,
        client: FederationClient,
        notary_client: FederationClient,
        notaries: tuple[str, ...],
        clock: Clock,
    ) -> None:
        self._server_name = server_name
        self._key = signing_key
        self._store = store
        self._client = client
        self._notary_client = notary_client
        self._fetch_slots = asyncio.Semaphore(KEY_FETCH_CONCURRENCY)
        self._notary_slots = asyncio.Semaphore(NOTARY_CONCURRENCY)
        self._notaries = notaries
        self._clock = clock

    def own_response(self) -> dict[str, Any]:
        """``GET /_matrix/key/v2/server``."""
        return own_key_response(self._server_name, self._key, self._clock.time_ms() + OWN_KEY_VALIDITY_MS)

    async def verify_key(self, server_name: str, key_id: str, *, valid_at_ms: int | None = None) -> VerifyKey:
        """``server_name``'s key ``key_id``, trusted at ``valid_at_ms`` (default: now)."""
        if server_name == self._server_name:
            if key_id != self._key.key_id:
                raise KeyUnavailable(f"this server has no key {key_id}")
            return self._key.verify_key
        moment = valid_at_ms if valid_at_ms is not None else self._clock.time_ms()
        cached = await self._store.get_key(server_name, key_id)
        if cached is not None and cached.valid_until_ts >= moment:
            return decode_verify_key(cached.verify_key)
        await self._fetch(server_name, key_id, moment)
        fetched = await self._store.get_key(server_name, key_id)
        if fetched is None or fetched.valid_until_ts < moment:
            raise KeyUnavailable(f"no key {key_id} of {server_name} valid at {moment}")
        return decode_verify_key(fetched.verify_key)

    async def _fetch(self, server_name: str, key_id: str, moment: int) -> None:
        try:
            await self._remember(server_name, await self._ask_for_keys(server_name, "GET", "/_matrix/key/v2/server"))
            return
        except (FederationError, InvalidKeyResponse) as e:
            logger.info("server_keys_unavailable", server=server_name, error=str(e))
        for notary in self._notaries:
            try:
                answer = await self._ask_for_keys(notary, "POST", "/_matrix/key/v2/query", body={
                    "server_keys": {server_name: {key_id: {"minimum_valid_until_ts": moment}}},
                })
                # Checking the notary's signature may fetch its key (in a slot of its own).
                for response in answer.get("server_keys", []) if isinstance(answer, dict) else []:
                    if isinstance(response, dict) and response.get("server_name") == server_name:
                        await self._check_notarised(notary, response)
                        await self._remember(server_name, response)
                return
            except (FederationError, InvalidKeyResponse, KeyUnavailable) as e:
                logger.info("notary_failed", notary=notary, server=server_name, error=str(e))

    async def _ask_for_keys(self, destination: str, method: str, path: str, body: Any = None) -> Any:
        """One key request in a fetch slot; waiting for the slot counts toward its timeout."""
        try:
            async with asyncio.timeout(KEY_FETCH_TIMEOUT_S), self._fetch_slots:
                return await self._client.request(destination, method, path, body=body, timeout=KEY_FETCH_TIMEOUT_S)
        except TimeoutError:
            raise FederationError(destination, "no key fetch slot came free in time") from None

    async def _check_notarised(self, notary: str, response: Mapping[str, Any]) -> None:
        signatures = response.get("signatures", {}).get(notary, {}) if isinstance(response.get("signatures"), dict) else {}
        for key_id in signatures:
            try:
                key = await self.verify_key(notary, key_id)
            except KeyUnavailable:
                continue
            check_notary_signature(response, notary, key_id, encode_base64(bytes(key)))
            return
        raise InvalidKeyResponse(f"the answer is not signed by notary {notary}")

    async def _remember(self, server_name: str, response: Any) -> None:
        keys = parse_key_response(response, server_name)
        await self._store.store_response(
            server_name, dict(response), [(k.key_id, k.key, k.valid_until_ts, k.old) for k in keys],
            self._clock.time_ms(),
        )

    async def notary_answer(self, wanted: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
        """``/_matrix/key/v2/query``: the key responses of the wanted servers, co-signed by us.

        ``wanted`` maps a server name to ``{key_id: {"minimum_valid_until_ts": ts}}``
        (an empty mapping: any key). A cached response that is fresh enough is
        served; otherwise the server is asked (within the notary limits).
        """
        if len(wanted) > NOTARY_MAX_SERVERS:
            raise MatrixError("M_INVALID_PARAM", f"A key query may name at most {NOTARY_MAX_SERVERS} servers")
        now = self._clock.time_ms()
        stored: dict[str, tuple[dict[str, Any], int] | None] = {}
        stale: list[str] = []
        for server_name, criteria in wanted.items():
            if server_name == self._server_name:
                continue
            minimum = max(
                [c.get("minimum_valid_until_ts", 0) for c in criteria.values() if isinstance(c, Mapping)] or [0]
            )
            minimum = minimum if isinstance(minimum, int) else 0
            stored[server_name] = await self._store.get_response(server_name)
            cached = stored[server_name]
            if cached is None or cached[1] < max(minimum, now):
                stale.append(server_name)
        fetched = await asyncio.gather(*(self._notary_fetch(s) for s in stale[:NOTARY_MAX_FETCHES]))
        for server_name, fresh in zip(stale, fetched):
            if fresh:
                stored[server_name] = await self._store.get_response(server_name)
        answers = []
        for server_name in wanted:
            if server_name == self._server_name:
                answers.append(self.own_response())
            elif (response := stored.get(server_name)) is not None:
                answers.append(sign_json(response[0], self._server_name, self._key))
        return answers

    async def _notary_fetch(self, server_name: str) -> bool:
        """Ask ``server_name`` for its keys on a stranger's behalf; whether it answered."""
        async with self._notary_slots:
            try:
                response = await self._notary_client.request(
                    server_name, "GET", "/_matrix/key/v2/server", timeout=KEY_FETCH_TIMEOUT_S
                )
                await self._remember(server_name, response)
            except (FederationError, InvalidKeyResponse) as e:
                logger.info("notary_fetch_failed", server=server_name, error=str(e))
                return False
        return True
