"""Send-to-device messaging (spec: "Send-to-Device messaging").

A message is queued in each target device's inbox in the same transaction as
its transaction ID, so a retried request never delivers twice. The device
receives it in ``/sync`` and it is deleted only when a later sync presents a
``since`` token at or past it: a response lost on the way is sent again.
Messages for users of other servers become one ``m.direct_to_device`` EDU per
server, queued for federation in the same transaction. An EDU from another
server is delivered once per (sender, ``message_id``), recorded in the same
transaction as the delivery: a server may retry an EDU inside a new federation
transaction, which the inbound transaction ID alone would not catch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeserver.clock import Clock
from homeserver.core.identifiers import get_domain_from_id, is_valid_user_id
from homeserver.errors import MatrixError
from homeserver.services.auth import Requester
from homeserver.services.notifier import Notifier
from homeserver.services.ports import OutboundFederation
from homeserver.services.ratelimit import RateLimiter
from storage.database import Database
from storage.devices import DeviceStore
from storage.e2e_keys import DeviceStatus, KeyStore
from storage.to_device import TO_DEVICE_STREAM, ToDeviceMessage, ToDeviceStore

#: Messages delivered per sync; the rest follow in the next one.
MAX_PER_SYNC = 100
#: How long a transaction ID or a remote message ID is remembered (a client or
#: server retries within minutes, or hours for a server that was away).
TXN_MEMORY_MS = 7 * 24 * 60 * 60 * 1000
#: Longer remote message IDs are not remembered (they would overflow an index
#: entry); such an EDU is delivered like one without a message ID.
MAX_MESSAGE_ID_LENGTH = 500


class ToDeviceService:
    def __init__(
        self,
        db: Database,
        store: ToDeviceStore,
        devices: DeviceStore,
        keys: KeyStore,
        notifier: Notifier,
        federation: OutboundFederation,
        clock: Clock,
        server_name: str,
        rate_limiter: RateLimiter,
    ) -> None:
        self._rate_limiter = rate_limiter
        self._db = db
        self._store = store
        self._devices = devices
        self._keys = keys
        self._notifier = notifier
        self._federation = federation
        self._clock = clock
        self._server_name = server_name

    async def send(self, requester: Requester, event_type: str, txn_id: str, messages: Any) -> None:
        """Queue ``messages`` (user -> device or ``*`` -> content) once per transaction ID."""
        self._rate_limiter.check("to_device", requester.user_id)
        if not isinstance(messages, Mapping):
            raise MatrixError("M_BAD_JSON", "messages must be an object")
        for user_id, by_device in messages.items():
            if not is_valid_user_id(user_id):
                raise MatrixError("M_INVALID_PARAM", f"Invalid user ID: {user_id}")
            if not isinstance(by_device, Mapping) or not all(isinstance(c, Mapping) for c in by_device.values()):
                raise MatrixError("M_BAD_JSON", f"messages.{user_id} must map device IDs to objects")
        async with self._db.transaction("send_to_device"):
            if not await self._store.claim_txn(requester.user_id, requester.device_id, txn_id, self._clock.time_ms()):
                return
            remote: dict[str, dict[str, Any]] = {}
            for user_id, by_device in messages.items():
                server = get_domain_from_id(user_id)
                if server != self._server_name:
                    remote.setdefault(server, {})[user_id] = {d: dict(c) for d, c in by_device.items()}
            for server, users in sorted(remote.items()):
                await self._federation.enqueue_edu("m.direct_to_device", {
                    "sender": requester.user_id, "type": event_type, "message_id": f"{requester.device_id}:{txn_id}",
                    "messages": users,
                }, {server})
            if remote:
                self._db.after_commit(self._federation.wake)
            local = {u: m for u, m in messages.items() if get_domain_from_id(u) == self._server_name}
            await self._deliver(requester.user_id, event_type, local)

    async def receive_remote(self, origin: str, content: Any) -> None:
        """An ``m.direct_to_device`` EDU from ``origin``: deliver it to local devices, once
        per ``message_id`` (an EDU without a usable one cannot be told from a retry, and is
        delivered)."""
        if not isinstance(content, Mapping):
            return
        sender, event_type, messages = content.get("sender"), content.get("type"), content.get("messages")
        if (
            not isinstance(sender, str) or not is_valid_user_id(sender) or get_domain_from_id(sender) != origin
            or not isinstance(event_type, str) or not isinstance(messages, Mapping)
        ):
            return  # a server speaks only for its own users
        local = {
            u: m for u, m in messages.items()
            if isinstance(u, str) and is_valid_user_id(u) and get_domain_from_id(u) == self._server_name
            and isinstance(m, Mapping) and all(isinstance(c, Mapping) for c in m.values())
        }
        message_id = content.get("message_id")
        remembered = isinstance(message_id, str) and len(message_id) <= MAX_MESSAGE_ID_LENGTH
        async with self._db.transaction("receive_to_device"):
            if remembered and not await self._store.claim_remote_message(sender, message_id, self._clock.time_ms()):
                return  # delivered before, from an earlier transaction
            await self._deliver(sender, event_type, local)

    async def _deliver(self, sender: str, event_type: str, messages: Mapping[str, Mapping[str, Any]]) -> None:
        """Queue messages for local devices (inside a transaction); ``*`` means every device."""
        queued: list[ToDeviceMessage] = []
        for user_id, by_device in messages.items():
            existing = set(await self._devices.device_ids(user_id))
            targets: dict[str, Mapping[str, Any]] = {}
            if "*" in by_device:
                targets = {d: by_device["*"] for d in existing}
            targets.update({d: c for d, c in by_device.items() if d != "*" and d in existing})
            queued.extend(ToDeviceMessage(user_id, d, sender, event_type, dict(c)) for d, c in targets.items())
        if not queued:
            return
        position = await self._store.add(queued)
        recipients = {m.user_id for m in queued}
        self._db.after_commit(lambda: self._notifier.notify(TO_DEVICE_STREAM, position, recipients))

    async def forget_old_txns(self) -> None:
        """Housekeeping: drop transaction IDs and remote message IDs too old to be retried."""
        before = self._clock.time_ms() - TXN_MEMORY_MS
        await self._store.delete_old_txns(before)
        await self._store.delete_old_remote_messages(before)

    async def for_sync(
        self, user_id: str, device_id: str, since: int, up_to: int
    ) -> tuple[list[dict[str, Any]], int, DeviceStatus]:
        """A device's sync: its new messages, the position they reach, and its key status.

        Messages at or before ``since`` were delivered by the sync that
        returned ``since``: the client has them, so they are deleted now.
        """
        status = await self._keys.device_status(user_id, device_id, since)
        if status.has_acknowledged_messages:
            await self._store.acknowledge(user_id, device_id, since)
        if since >= up_to:
            return [], up_to, status
        pending = await self._store.pending(user_id, device_id, since, up_to, MAX_PER_SYNC)
        reached = pending[-1][0] if len(pending) == MAX_PER_SYNC else up_to
        return [event for _, event in pending], reached, status
