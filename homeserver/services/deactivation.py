"""Account deactivation (spec: Client-Server API, "Account deactivation"): the
account loses its password, devices, tokens, pushers and profile; it leaves every room
and rejects every invite and knock (through :class:`MemberUpdates`, which
resumes after a restart); with ``erase`` its account data goes and its events
are from then on served redacted to anyone who could not see them before
(users joined when an event was sent, or who joined the room before the
erasure, keep seeing them, as in Synapse; other servers get them redacted).
"""

from __future__ import annotations

import structlog

from homeserver.services.accounts import AccountService
from homeserver.services.rooms.member_updates import MemberUpdates
from storage.accounts import AccountStore
from storage.database import Database
from storage.events import EVENTS_STREAM
from storage.push import PushStore
from storage.streams import current_position

logger = structlog.get_logger(__name__)


class Deactivation:
    def __init__(
        self, *, db: Database, accounts: AccountService, store: AccountStore, pushers: PushStore,
        member_updates: MemberUpdates,
    ) -> None:
        self._pushers = pushers
        self._db = db
        self._accounts = accounts
        self._store = store
        self._member_updates = member_updates

    async def deactivate(self, user_id: str, *, erase: bool) -> None:
        await self._accounts.deactivate(user_id, erase=erase)
        async with self._db.transaction("part_deactivated_user"):
            await self._pushers.delete_pushers_of(user_id)
            if erase:
                await self._store.erase(user_id, await current_position(self._db, EVENTS_STREAM))
            await self._member_updates.part(user_id)
        logger.info("user_parting", user_id=user_id, erase=erase)
