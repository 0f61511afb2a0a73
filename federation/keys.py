"""Server keys: publishing ours, fetching and caching others', and the notary API.

Design note: a key is looked up for a moment in time (now, for request
signatures; an event's timestamp, for events of room versions that require
it). A cached key serves while its ``valid_until_ts`` covers that moment;
otherwise the server is asked directly (``/_matrix/key/v2/server``), then each
configured notary (``/_matrix/key/v2/query``), and whatever verifies is cached.
A response must be signed by every key it lists as current, and a notary's
answer must also carry the notary's own signature by a key we already trust.

Asking a server for its keys is bounded in time (:data:`KEY_FETCH_TIMEOUT_S`,
discovery included) and done once at a time per server: callers that need the
same server's keys meanwhile share the answer. As a notary, Hearth serves what it
has stored and asks the server again only when that is not fresh enough for the
query, and then at most once per :data:`NOTARY_REFETCH_INTERVAL_S` per server: a
server that publishes shorter-lived keys than a query asks for, or that does not
answer, is not asked again and again (each time keeping the querier waiting, and
making this server a tool to flood it).
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
from homeserver.services.ports import KeyUnavailable
from storage.server_keys import ServerKeyStore

logger = structlog.get_logger(__name__)

#: How long others may cache our key response.
OWN_KEY_VALIDITY_MS = 24 * 60 * 60 * 1000
#: The longest wait for a server's (or a notary's) key answer, discovery included.
KEY_FETCH_TIMEOUT_S = 10.0
#: A notary asks the same server for its keys at most this often.
NOTARY_REFETCH_INTERVAL_S = 60.0
#: Servers a notary query may name, and how many of them are asked at once.
MAX_NOTARY_SERVERS = 100
_NOTARY_CONCURRENCY = 10
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
        notaries: tuple[str, ...],
        clock: Clock,
    ) -> None:
        self._server_name = server_name
        self._key = signing_key
        self._store = store
        self._client = client
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
                answer = await self._request(notary, "POST", "/_matrix/key/v2/query", body={
                    "server_keys": {server_name: {key_id: {"minimum_valid_until_ts": moment}}},
                })
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

    async def _ask_server(self, server_name: str) -> bool:
        """Fetch and keep ``server_name``'s own key response; whether that worked.
        One request per server at a time: concurrent callers share it."""
        running = self._in_flight.get(server_name)
        if running is not None:
            return await asyncio.shield(running)
        running = self._in_flight[server_name] = asyncio.get_running_loop().create_future()
        try:
            await self._remember(server_name, await self._request(server_name, "GET", "/_matrix/key/v2/server"))
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

    async def _request(self, destination: str, method: str, path: str, **kwargs: Any) -> Any:
        """A key request, given up after :data:`KEY_FETCH_TIMEOUT_S` (discovery included)."""
        try:
            return await asyncio.wait_for(
                self._client.request(destination, method, path, timeout=KEY_FETCH_TIMEOUT_S, **kwargs),
                KEY_FETCH_TIMEOUT_S,
            )
        except asyncio.TimeoutError:
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
        otherwise the server is asked (at most once per
        :data:`NOTARY_REFETCH_INTERVAL_S`), and what is stored then is served.
        """
        limit = asyncio.Semaphore(_NOTARY_CONCURRENCY)

        async def answer(server_name: str) -> dict[str, Any] | None:
            if server_name == self._server_name:
                return self.own_response()
            async with limit:
                stored = await self._store.get_response(server_name)
                if (stored is None or stored[1] < max(wanted[server_name], self._clock.time_ms())) \
                        and self._may_refetch(server_name):
                    await self._ask_server(server_name)
                    stored = await self._store.get_response(server_name)
            return sign_json(stored[0], self._server_name, self._key) if stored is not None else None

        answers = await asyncio.gather(*(answer(name) for name in wanted))
        return [a for a in answers if a is not None]

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
