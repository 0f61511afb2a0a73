"""Inbound federation transactions (spec: Server-Server API, "Transactions").

A transaction is handled once: its answer is recorded under (origin, txnId)
and a retried transaction gets the same answer without being processed again.
EDUs are dispatched by type to the service they concern; an EDU of an unknown
type, one a server sends about users not its own, or one outside the JSON
policy (nested too deep, U+0000) is ignored, as the spec asks. PDUs go through
:class:`RemoteEvents` one by one; each gets a result. Nothing wrong with one PDU
or EDU fails the transaction (the transaction body itself was only parsed, as
deep as :data:`~homeserver.parsing.MAX_TRANSPORT_DEPTH`, and authenticated).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from homeserver.clock import Clock
from homeserver.core.canonical_json import InvalidJSON, check_json_value
from homeserver.errors import MatrixError
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.to_device import ToDeviceService
from homeserver.services.presence import PresenceService
from homeserver.services.receipts import ReceiptService
from homeserver.services.rooms.remote import RemoteEvents
from homeserver.services.typing import TypingService
from storage.federation_queue import FederationQueueStore

logger = structlog.get_logger(__name__)

MAX_PDUS = 50
MAX_EDUS = 100

EduHandler = Callable[[str, Any], Awaitable[None]]


class FederationInbox:
    def __init__(
        self,
        *,
        store: FederationQueueStore,
        to_device: ToDeviceService,
        typing: TypingService,
        receipts: ReceiptService,
        presence: PresenceService,
        device_lists: DeviceListService,
        remote: RemoteEvents,
        clock: Clock,
    ) -> None:
        self._store = store
        self._remote = remote
        self._clock = clock
        self._edu_handlers: dict[str, EduHandler] = {
            "m.direct_to_device": to_device.receive_remote,
            "m.typing": typing.receive_remote,
            "m.receipt": receipts.receive_remote,
            "m.presence": presence.receive_remote,
            "m.device_list_update": device_lists.receive_device_list_update,
            "m.signing_key_update": device_lists.receive_signing_key_update,
        }

    async def receive(self, origin: str, txn_id: str, body: Any) -> dict[str, Any]:
        """Process one transaction from ``origin``; the ``/send`` response."""
        if not isinstance(body, dict):
            raise MatrixError("M_BAD_JSON", "A transaction must be a JSON object")
        pdus, edus = body.get("pdus", []), body.get("edus", [])
        if not isinstance(pdus, list) or not isinstance(edus, list):
            raise MatrixError("M_BAD_JSON", "pdus and edus must be arrays")
        if len(pdus) > MAX_PDUS or len(edus) > MAX_EDUS:
            raise MatrixError("M_BAD_JSON", f"A transaction carries at most {MAX_PDUS} PDUs and {MAX_EDUS} EDUs")
        if body.get("origin", origin) != origin:
            raise MatrixError("M_FORBIDDEN", "The transaction's origin is not the signing server", status=403)
        earlier = await self._store.inbound_response(origin, txn_id)
        if earlier is not None:
            return earlier
        results: dict[str, Any] = {}
        for pdu in pdus:
            event_id, error = await self._remote.receive_pdu(origin, pdu)
            if event_id is not None:
                results[event_id] = {"error": error} if error else {}
        for edu in edus:
            await self._edu(origin, edu)
        response: dict[str, Any] = {"pdus": results}
        await self._store.record_inbound(origin, txn_id, response, self._clock.time_ms())
        return response

    async def _within_acls(self, origin: str, edu_type: str, content: Any) -> Any:
        """Room-scoped EDUs lose the rooms whose server ACL denies ``origin``."""
        if edu_type == "m.typing" and isinstance(content, dict) and isinstance(content.get("room_id"), str):
            return content if await self._remote.acl_allows(content["room_id"], origin) else None
        if edu_type == "m.receipt" and isinstance(content, dict):
            return {r: v for r, v in content.items() if isinstance(r, str) and await self._remote.acl_allows(r, origin)}
        return content

    async def _edu(self, origin: str, edu: Any) -> None:
        if not isinstance(edu, dict) or not isinstance(edu.get("edu_type"), str):
            return
        handler = self._edu_handlers.get(edu["edu_type"])
        if handler is None:
            return
        try:
            check_json_value(edu, safe_integers=False)
        except InvalidJSON as e:
            logger.info("edu_refused", origin=origin, edu_type=edu["edu_type"], error=str(e))
            return
        try:
            content = await self._within_acls(origin, edu["edu_type"], edu.get("content"))
            await handler(origin, content)
        except MatrixError as e:
            logger.info("edu_refused", origin=origin, edu_type=edu["edu_type"], error=str(e))
        except Exception:  # noqa: BLE001 - one EDU's failure must not fail its transaction
            logger.exception("edu_failed", origin=origin, edu_type=edu["edu_type"])
