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
real federation. Each fetch is bounded in time (:data:`KEY_FETCH_TIMEOUT_S`,
waiting for a slot and discovery included) and done once at a time per server:
callers that need the same server's keys meanwhile share the answer.

Serving the notary API (``/_matrix/key/v2/query``, open to anyone) is work for
strangers, so it is bounded apart from real federation: it uses its own client
(own connection pool, one request per destination at a time), at most
:data:`NOTARY_CONCURRENCY` fetches run at once across all queries, one query
names at most :data:`NOTARY_MAX_SERVERS` servers and fetches afresh at most
:data:`NOTARY_MAX_FETCHES` of them. What is stored is served; a server is asked
again only when that is not fresh enough for the query, and then at most once
per :data:`NOTARY_REFETCH_INTERVAL_S`: a server that publishes shorter-lived
keys than a query asks for, or that does not answer, is not asked again and
again (each time keeping the querier waiting, and making this server a tool to
flood it).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
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
#: Seconds a key fetch may take, waiting for a slot and discovery included (a slow
#: server must not hold up request checks for long).
KEY_FETCH_TIMEOUT_S = 10.0
#: Key fetches (for checking requests and events) in flight at once.
KEY_FETCH_CONCURRENCY = 20
#: Servers one notary query may name.
NOTARY_MAX_SERVERS = 100
#: Servers one notary query may make us ask afresh.
NOTARY_MAX_FETCHES = 10
#: Notary fetches in flight at once, across all queries.
NOTARY_CONCURRENCY = 10
#: A notary asks the same server for its keys at most this often.
NOTARY_REFETCH_INTERVAL_S = 60.0
#: Servers whose last notary fetch is remembered.
_RECENT_FETCHES = 10_000


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
        self._in_flight: dict[str, asyncio.Future[bool]] = {}
        self._notary_fetched: OrderedDict[str, float] = OrderedDict()

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
        if await self._ask_server(server_name):
            return
        for notary in self._notaries:
            try:
                answer = await self._key_request(notary, "POST", "/_matrix/key/v2/query", body={
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

    async def _ask_server(self, server_name: str, *, for_notary: bool = False) -> bool:
        """Fetch and keep ``server_name``'s own key response; whether that worked.
        One request per server at a time: concurrent callers share it."""
        running = self._in_flight.get(server_name)
        if running is not None:
            return await asyncio.shield(running)
        running = self._in_flight[server_name] = asyncio.get_running_loop().create_future()
        try:
            response = await self._key_request(server_name, "GET", "/_matrix/key/v2/server", for_notary=for_notary)
            await self._remember(server_name, response)
        except (FederationError, InvalidKeyResponse) as e:
            logger.info("server_keys_unavailable", server=server_name, error=str(e))
            running.set_result(False)
        except BaseException:
            running.cancel()
            raise
        else:
            running.set_result(True)
        finally:
            del self._in_flight[server_name]
        return running.result()

    async def _key_request(
        self, destination: str, method: str, path: str, body: Any = None, *, for_notary: bool = False
    ) -> Any:
        """One key request in a slot of its pool (the notary's, or the one for checks);
        waiting for the slot and discovery count toward :data:`KEY_FETCH_TIMEOUT_S`."""
        client, slots = (self._notary_client, self._notary_slots) if for_notary else (self._client, self._fetch_slots)
        try:
            async with asyncio.timeout(KEY_FETCH_TIMEOUT_S), slots:
                return await client.request(destination, method, path, body=body, timeout=KEY_FETCH_TIMEOUT_S)
        except TimeoutError:
            raise FederationError(destination, "no key answer in time") from None

    async def _remember(self, server_name: str, response: Any) -> None:
        keys = parse_key_response(response, server_name)
        await self._store.store_response(
            server_name, dict(response), [(k.key_id, k.key, k.valid_until_ts, k.old) for k in keys],
            self._clock.time_ms(),
        )

    async def notary_answer(self, wanted: Mapping[str, int]) -> list[dict[str, Any]]:
        """``/_matrix/key/v2/query``: the key responses of the wanted servers, co-signed by us.

        ``wanted`` maps a server name to the ``minimum_valid_until_ts`` the keys
        should reach (0: now). A stored response that reaches it is served;
        otherwise the server is asked (within the notary limits, and at most once
        per :data:`NOTARY_REFETCH_INTERVAL_S`), and what is stored then is served.
        """
        if len(wanted) > NOTARY_MAX_SERVERS:
            raise MatrixError("M_INVALID_PARAM", f"A key query may name at most {NOTARY_MAX_SERVERS} servers")
        now = self._clock.time_ms()
        stored: dict[str, tuple[dict[str, Any], int] | None] = {}
        stale: list[str] = []
        for server_name, minimum in wanted.items():
            if server_name == self._server_name:
                continue
            cached = stored[server_name] = await self._store.get_response(server_name)
            if (cached is None or cached[1] < max(minimum, now)) and len(stale) < NOTARY_MAX_FETCHES \
                    and self._may_refetch(server_name):
                stale.append(server_name)
        fetched = await asyncio.gather(*(self._ask_server(s, for_notary=True) for s in stale))
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

    def _may_refetch(self, server_name: str) -> bool:
        """Whether a notary query may ask ``server_name`` again now (and note that it does)."""
        now = self._clock.monotonic()
        last = self._notary_fetched.get(server_name)
        if last is not None and now - last < NOTARY_REFETCH_INTERVAL_S:
            return False
        self._notary_fetched[server_name] = now
        self._notary_fetched.move_to_end(server_name)
        if len(self._notary_fetched) > _RECENT_FETCHES:
            self._notary_fetched.popitem(last=False)
        return True
