"""Server notices (spec: Client-Server API, "Server Notices"): messages from the
server to one of its users, sent by a system account into the user's own notices
room. The room and the account are created when the first notice needs them; the
room is tagged ``m.server_notice`` for the user, who is invited (not joined) and,
by the room's power levels, cannot send anything in it."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from homeserver.config import ServerNoticesConfig
from homeserver.errors import MatrixError
from homeserver.services.account_data import AccountDataService
from homeserver.services.accounts import AccountService
from homeserver.services.rooms.creation import CreateRoomRequest, RoomCreator
from homeserver.services.rooms.sender import EventSender, Txn
from storage.accounts import AccountStore
from storage.rooms import RoomStore
from storage.server_notices import ServerNoticeStore

logger = structlog.get_logger(__name__)

NOTICE_TAG = "m.server_notice"
NOTICE_MSGTYPE = "m.server_notice"
#: The level needed to send anything in a notices room: above every user but the
#: notices account (the room's creator, at 100 or, from room version 12, above all).
_SEND_LEVEL = 100


class ServerNotices:
    def __init__(
        self,
        *,
        config: ServerNoticesConfig,
        store: ServerNoticeStore,
        accounts: AccountService,
        account_store: AccountStore,
        rooms: RoomStore,
        creator: RoomCreator,
        sender: EventSender,
        account_data: AccountDataService,
        server_name: str,
    ) -> None:
        self._config = config
        self._store = store
        self._accounts = accounts
        self._account_store = account_store
        self._rooms = rooms
        self._creator = creator
        self._sender = sender
        self._account_data = account_data
        self._server_name = server_name
        # Notices are rare and sent by administrators: one room set-up at a time keeps
        # two first notices to one user from creating two rooms.
        self._setup = asyncio.Lock()

    async def send(self, user_id: str, content: dict[str, Any], *, txn: tuple[str, str, str] | None = None) -> str:
        """Send a notice (``content`` of an ``m.room.message``, its ``msgtype`` set to
        ``m.server_notice``) to a local user; its event ID. ``txn`` is the (admin,
        device, transaction ID) whose repetition returns the first notice."""
        localpart = self._config.system_mxid_localpart
        if localpart is None:
            raise MatrixError("M_UNKNOWN", "Server notices are not enabled on this server")
        if not user_id.endswith(":" + self._server_name):
            raise MatrixError("M_UNKNOWN", "Server notices can only be sent to local users")
        if not await self._account_store.user_exists(user_id):
            raise MatrixError("M_NOT_FOUND", "User not found")
        if not isinstance(content.get("body"), str):
            raise MatrixError("M_BAD_JSON", "content.body must be a string")
        system_user = self._accounts.user_id_for(localpart)
        if user_id == system_user:
            raise MatrixError("M_UNKNOWN", "Server notices cannot be sent to the notices account")
        room_id = await self._room_for(localpart, user_id)
        event_txn = Txn(system_user, f"{txn[0]} {txn[1]}", txn[2]) if txn is not None else None
        sent = await self._sender.send(
            room_id, system_user, "m.room.message", {**content, "msgtype": NOTICE_MSGTYPE}, txn=event_txn
        )
        logger.info("server_notice_sent", user_id=user_id, room_id=room_id, event_id=sent.event.event_id)
        return sent.event.event_id

    async def _room_for(self, localpart: str, user_id: str) -> str:
        """The user's notices room, created (with the notices account) if they have
        none yet, the user invited again if they left it."""
        system_user = self._accounts.user_id_for(localpart)
        async with self._setup:
            room_id = await self._store.room_of(user_id)
            if room_id is None:
                await self._ensure_system_user(localpart)
                created = await self._creator.create_room(system_user, CreateRoomRequest(
                    preset="private_chat",
                    name=self._config.room_name,
                    invite=(user_id,),
                    power_level_content_override={"events_default": _SEND_LEVEL},
                ), rate_limited=False)  # a notice to every user must not stall on the limits
                room_id = created.room_id
                await self._store.remember(user_id, room_id)
                await self._account_data.set_tag(user_id, user_id, room_id, NOTICE_TAG, {})
                logger.info("server_notices_room_created", user_id=user_id, room_id=room_id)
            elif await self._rooms.membership(room_id, user_id) not in ("join", "invite"):
                await self._sender.send(room_id, system_user, "m.room.member", {"membership": "invite"},
                                        state_key=user_id)
            return room_id

    async def _ensure_system_user(self, localpart: str) -> None:
        """Create the notices account (without a password, so nobody can log in as it)."""
        system_user = self._accounts.user_id_for(localpart)
        if await self._account_store.user_exists(system_user):
            return
        await self._accounts.add_user(localpart, None, system=True)
        if self._config.system_mxid_display_name is not None:
            await self._accounts.set_displayname(system_user, self._config.system_mxid_display_name)
        if self._config.system_mxid_avatar_url is not None:
            await self._accounts.set_admin_profile_field(system_user, "avatar_url", self._config.system_mxid_avatar_url)
        logger.info("server_notices_user_created", user_id=system_user)
