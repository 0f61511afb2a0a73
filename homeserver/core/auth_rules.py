"""The authorization rules of every room version (spec: room versions,
"Authorization rules"; server-server API, "Auth events selection").

Everything here is a pure decision over events that the caller fetched first.
``check_auth_rules`` implements the state-dependent rules; the checks on an
event's own ``auth_events`` list are in ``check_auth_events_list``. Signature
requirements (such as ``join_authorised_via_users_server``) are enforced by
:mod:`homeserver.core.signing` before these rules run.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from homeserver.core import power_levels as pl
from homeserver.core.events import Event
from homeserver.core.identifiers import InvalidIdentifier, get_domain_from_id, is_valid_user_id
from homeserver.core.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion
from homeserver.core.third_party_invites import third_party_invite_signed_by_room_key

StateKey = tuple[str, str]
AuthState = Mapping[StateKey, Event]

CREATE = ("m.room.create", "")
POWER_LEVELS = ("m.room.power_levels", "")
JOIN_RULES = ("m.room.join_rules", "")

_LEVEL_KEYS = ("users_default", "events_default", "state_default", "ban", "redact", "kick", "invite")


class AuthError(Exception):
    """The event is not allowed; the message names the rule that refused it."""


def auth_types_for_event(
    room_version: RoomVersion,
    event_type: str,
    sender: str,
    state_key: str | None,
    content: Mapping[str, Any],
) -> set[StateKey]:
    """The ``(type, state_key)`` pairs the auth events selection algorithm picks."""
    if event_type == "m.room.create":
        return set()
    wanted = {POWER_LEVELS, ("m.room.member", sender)}
    if not room_version.auth.room_create_event_id_as_room_id:
        wanted.add(CREATE)
    if event_type == "m.room.member" and state_key is not None:
        wanted.add(("m.room.member", state_key))
        membership = content.get("membership")
        if membership in ("join", "invite", "knock"):
            wanted.add(JOIN_RULES)
        if membership == "invite":
            token = _third_party_token(content)
            if token is not None:
                wanted.add(("m.room.third_party_invite", token))
        if membership == "join" and room_version.auth.restricted_join_rule:
            authoriser = content.get("join_authorised_via_users_server")
            if isinstance(authoriser, str):
                wanted.add(("m.room.member", authoriser))
    return wanted


def check_auth_events_list(
    event: Event, auth_events: Sequence[Event], *, rejected: Collection[str] = ()
) -> None:
    """Rule "considering the event's auth_events": no duplicates, nothing the
    selection algorithm would not pick, nothing rejected, nothing from another
    room, and the create event present (v1-v11) or absent (v12)."""
    version = event.room_version
    allowed = auth_types_for_event(version, event.type, event.sender, event.state_key, event.content)
    seen: set[StateKey] = set()
    for auth_event in auth_events:
        if not auth_event.is_state:
            raise AuthError(f"auth event {auth_event.event_id} is not a state event")
        key = auth_event.state_tuple()
        if key in seen:
            raise AuthError(f"duplicate auth event for {key}")
        seen.add(key)
        if key not in allowed:
            raise AuthError(f"auth event {key} is not one the selection algorithm picks")
        if auth_event.event_id in rejected:
            raise AuthError(f"auth event {auth_event.event_id} was rejected")
        if auth_event.room_id != event.room_id:
            raise AuthError(f"auth event {auth_event.event_id} is from another room")
    if event.type != "m.room.create" and not version.auth.room_create_event_id_as_room_id:
        if CREATE not in seen:
            raise AuthError("no m.room.create event among the auth events")


def check_auth_rules(event: Event, auth_state: AuthState) -> None:
    """Raise :class:`AuthError` unless ``event`` is allowed by ``auth_state``.

    ``auth_state`` holds the state that authorises the event (its auth events,
    or the room state before it, or the current state) and always includes the
    room's create event under ``("m.room.create", "")``, even in room version
    12 where auth events do not list it.
    """
    version = event.room_version
    if event.type == "m.room.create":
        _check_create(event)
        return
    create = auth_state.get(CREATE)
    if create is None:
        raise AuthError("no m.room.create event in the room state")
    if version.auth.room_create_event_id_as_room_id:
        if event.room_id != "!" + create.event_id[1:]:
            raise AuthError("room ID is not the create event's ID")
    elif create.room_id != event.room_id:
        raise AuthError("create event belongs to another room")
    if create.content.get("m.federate") is False and _domain(event.sender) != _domain(create.sender):
        raise AuthError("room does not federate with the sender's server")
    if version.auth.special_case_room_aliases and event.type == "m.room.aliases":
        if event.state_key is None or event.state_key != _domain(event.sender):
            raise AuthError("m.room.aliases state key must be the sender's server")
        return
    if event.type == "m.room.member":
        _check_member(event, auth_state, create)
        return

    sender_level = pl.user_power_level(event.sender, auth_state)
    if _membership(auth_state, event.sender) != "join":
        raise AuthError("sender is not joined to the room")
    if event.type == "m.room.third_party_invite":
        if sender_level < pl.named_level("invite", auth_state):
            raise AuthError("sender may not invite")
        return
    if pl.required_power_level(event.type, event.is_state, auth_state) > sender_level:
        raise AuthError(f"sender's power level is too low to send {event.type}")
    if event.state_key is not None and event.state_key.startswith("@") and event.state_key != event.sender:
        raise AuthError("state keys starting with @ are reserved for that user")
    if event.type == "m.room.power_levels":
        _check_power_levels(event, auth_state, create, sender_level)
        return
    if version.auth.special_case_redaction_domain and event.type == "m.room.redaction":
        if sender_level >= pl.named_level("redact", auth_state):
            return
        redacts = event.redacts
        if redacts is not None and _domain(redacts) == _domain(event.event_id):
            return
        raise AuthError("sender may not redact events from other servers")


def _check_create(event: Event) -> None:
    version = event.room_version
    if event.prev_event_ids:
        raise AuthError("create event has prev_events")
    if version.auth.room_create_event_id_as_room_id:
        if "room_id" in event.pdu():
            raise AuthError("create event must not have a room_id in this room version")
    elif _domain(event.room_id) != _domain(event.sender):
        raise AuthError("room ID's server does not match the sender's server")
    room_version = event.content.get("room_version")
    if room_version is not None and room_version not in KNOWN_ROOM_VERSIONS:
        raise AuthError(f"unknown room version {room_version!r}")
    if not version.auth.use_room_create_sender and "creator" not in event.content:
        raise AuthError("create event has no creator")
    if version.auth.additional_room_creators and "additional_creators" in event.content:
        extra = event.content["additional_creators"]
        if not isinstance(extra, list) or not all(isinstance(u, str) and is_valid_user_id(u) for u in extra):
            raise AuthError("additional_creators must be an array of user IDs")


def _check_member(event: Event, state: AuthState, create: Event) -> None:
    version = event.room_version
    target = event.state_key
    membership = event.content.get("membership")
    if target is None or not isinstance(membership, str):
        raise AuthError("member event without state_key or membership")
    sender = event.sender
    target_membership = _membership(state, target)
    sender_membership = _membership(state, sender)
    join_rule = _join_rule(state)

    if membership == "join":
        if (
            event.prev_event_ids == [create.event_id]
            and target in _original_creators(create)
        ):
            return
        if sender != target:
            raise AuthError("cannot join someone else")
        if target_membership == "ban":
            raise AuthError("sender is banned")
        if join_rule == "invite" or (join_rule == "knock" and version.auth.knocking):
            if target_membership in ("invite", "join"):
                return
            raise AuthError("room is invite-only")
        if (join_rule == "restricted" and version.auth.restricted_join_rule) or (
            join_rule == "knock_restricted" and version.auth.knock_restricted_join_rule
        ):
            if target_membership in ("invite", "join"):
                return
            authoriser = event.content.get("join_authorised_via_users_server")
            if (
                not isinstance(authoriser, str)
                or _membership(state, authoriser) != "join"
                or pl.user_power_level(authoriser, state) < pl.named_level("invite", state)
            ):
                raise AuthError("restricted join without a valid authorising user")
            return
        if join_rule == "public":
            return
        raise AuthError(f"cannot join a room whose join rule is {join_rule!r}")

    if membership == "invite":
        if "third_party_invite" in event.content:
            _check_third_party_invite(event, state, target_membership)
            return
        if sender_membership != "join":
            raise AuthError("inviter is not joined")
        if target_membership in ("join", "ban"):
            raise AuthError(f"cannot invite a user whose membership is {target_membership}")
        if pl.user_power_level(sender, state) >= pl.named_level("invite", state):
            return
        raise AuthError("sender may not invite")

    if membership == "leave":
        if sender == target:
            allowed = {"invite", "join"} | ({"knock"} if version.auth.knocking else set())
            if target_membership in allowed:
                return
            raise AuthError("cannot leave a room you are not in")
        if sender_membership != "join":
            raise AuthError("sender is not joined")
        sender_level = pl.user_power_level(sender, state)
        if target_membership == "ban" and sender_level < pl.named_level("ban", state):
            raise AuthError("sender may not unban")
        if sender_level >= pl.named_level("kick", state) and pl.user_power_level(target, state) < sender_level:
            return
        raise AuthError("sender may not kick this user")

    if membership == "ban":
        if sender_membership != "join":
            raise AuthError("sender is not joined")
        sender_level = pl.user_power_level(sender, state)
        if sender_level >= pl.named_level("ban", state) and pl.user_power_level(target, state) < sender_level:
            return
        raise AuthError("sender may not ban this user")

    if membership == "knock" and version.auth.knocking:
        knock_rules = {"knock"} | ({"knock_restricted"} if version.auth.knock_restricted_join_rule else set())
        if join_rule not in knock_rules:
            raise AuthError("room does not allow knocking")
        if sender != target:
            raise AuthError("cannot knock for someone else")
        if sender_membership not in ("ban", "invite", "join"):
            return
        raise AuthError(f"cannot knock with membership {sender_membership}")

    raise AuthError(f"unknown membership {membership!r}")


def _check_third_party_invite(event: Event, state: AuthState, target_membership: str | None) -> None:
    if target_membership == "ban":
        raise AuthError("target is banned")
    tpi = event.content.get("third_party_invite")
    signed = tpi.get("signed") if isinstance(tpi, Mapping) else None
    if not isinstance(signed, Mapping):
        raise AuthError("third_party_invite has no signed object")
    mxid, token = signed.get("mxid"), signed.get("token")
    if not isinstance(mxid, str) or not isinstance(token, str):
        raise AuthError("third_party_invite.signed needs mxid and token")
    if mxid != event.state_key:
        raise AuthError("third-party invite is for another user")
    invite_event = state.get(("m.room.third_party_invite", token))
    if invite_event is None:
        raise AuthError("no matching m.room.third_party_invite")
    if invite_event.sender != event.sender:
        raise AuthError("third-party invite was sent by someone else")
    if not third_party_invite_signed_by_room_key(signed, invite_event.content):
        raise AuthError("third-party invite signature does not match")


def _check_power_levels(event: Event, state: AuthState, create: Event, sender_level: float) -> None:
    version = event.room_version
    new = event.content
    new_levels = _validated_levels(new, version)
    if version.auth.explicitly_privilege_room_creators:
        creators = pl.room_creators(create)
        if any(user in creators for user in new_levels["users"]):
            raise AuthError("room creators cannot be listed in power levels")
    previous = state.get(POWER_LEVELS)
    if previous is None:
        return
    old_levels = _lenient_levels(previous.content, previous.room_version)

    for key in _LEVEL_KEYS:
        old, new_value = old_levels["top"].get(key), new_levels["top"].get(key)
        if old != new_value:
            if old is not None and old > sender_level:
                raise AuthError(f"cannot change {key} from above your own level")
            if new_value is not None and new_value > sender_level:
                raise AuthError(f"cannot set {key} above your own level")
    maps = ["events"] + (["notifications"] if version.auth.limit_notifications_power_levels else [])
    for name in maps:
        old_map, new_map = old_levels[name], new_levels[name]
        for key in old_map.keys() | new_map.keys():
            old, new_value = old_map.get(key), new_map.get(key)
            if old == new_value:
                continue
            if old is not None and old > sender_level:
                raise AuthError(f"cannot change {name}.{key} from above your own level")
            if new_value is not None and new_value > sender_level:
                raise AuthError(f"cannot set {name}.{key} above your own level")
    for user in old_levels["users"].keys() | new_levels["users"].keys():
        old, new_value = old_levels["users"].get(user), new_levels["users"].get(user)
        if old == new_value:
            continue
        if old is not None and user != event.sender and old >= sender_level:
            raise AuthError(f"cannot change the level of {user}, who is not below you")
        if new_value is not None and new_value > sender_level:
            raise AuthError(f"cannot raise {user} above your own level")


def _validated_levels(content: Mapping[str, Any], version: RoomVersion) -> dict[str, dict[str, int]]:
    """Parse new power levels strictly: any unusable value rejects the event."""
    top: dict[str, int] = {}
    for key in _LEVEL_KEYS:
        if key in content:
            top[key] = _parse(content[key], version, key)
    result = {"top": top}
    for name in ("events", "notifications", "users"):
        value = content.get(name, {})
        if not isinstance(value, Mapping):
            raise AuthError(f"{name} must be an object")
        if name == "users":
            for user in value:
                if not is_valid_user_id(user):
                    raise AuthError(f"{user!r} in users is not a user ID")
        result[name] = {k: _parse(v, version, f"{name}.{k}") for k, v in value.items()}
    return result


def _lenient_levels(content: Mapping[str, Any], version: RoomVersion) -> dict[str, dict[str, int]]:
    """Parse the previous power levels, ignoring anything unusable."""
    result: dict[str, dict[str, int]] = {"top": {}}
    for key in _LEVEL_KEYS:
        if key in content:
            try:
                result["top"][key] = pl.parse_level(content[key], version)
            except pl.InvalidPowerLevel:
                pass
    for name in ("events", "notifications", "users"):
        value = content.get(name)
        parsed: dict[str, int] = {}
        if isinstance(value, Mapping):
            for k, v in value.items():
                try:
                    parsed[k] = pl.parse_level(v, version)
                except pl.InvalidPowerLevel:
                    pass
        result[name] = parsed
    return result


def _parse(value: Any, version: RoomVersion, where: str) -> int:
    try:
        return pl.parse_level(value, version)
    except pl.InvalidPowerLevel as e:
        raise AuthError(f"{where}: {e}") from None


def _membership(state: AuthState, user_id: str) -> str | None:
    event = state.get(("m.room.member", user_id))
    return event.membership if event is not None else None


def _join_rule(state: AuthState) -> str:
    event = state.get(JOIN_RULES)
    if event is None:
        return "invite"
    rule = event.content.get("join_rule")
    return rule if isinstance(rule, str) else "invite"


def _original_creators(create: Event) -> set[str]:
    """Who may make the first join right after the create event."""
    if create.room_version.auth.use_room_create_sender:
        return {create.sender}
    creator = create.content.get("creator")
    return {creator} if isinstance(creator, str) else set()


def _third_party_token(content: Mapping[str, Any]) -> str | None:
    tpi = content.get("third_party_invite")
    if isinstance(tpi, Mapping) and isinstance(tpi.get("signed"), Mapping):
        token = tpi["signed"].get("token")
        if isinstance(token, str):
            return token
    return None


def _domain(identifier: str) -> str:
    try:
        return get_domain_from_id(identifier)
    except InvalidIdentifier:
        raise AuthError(f"{identifier!r} has no server name") from None
