"""The room-version table.

Each room version is a bundle of rule groups. Later versions are derived from
earlier ones with :func:`dataclasses.replace`, naming the proposal (MSC) that
introduced each change, so a reader can diff two versions by reading two lines.
Code asks for a flag (``version.auth.knocking``), never compares version strings.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class EventIdFormat(enum.Enum):
    """How an event's ID is obtained."""

    #: v1, v2: chosen by the origin server (``$opaque:server``), carried in the PDU.
    SERVER_GENERATED = "server_generated"
    #: v3: ``$`` + standard unpadded base64 of the reference hash.
    REFERENCE_HASH_BASE64 = "reference_hash_base64"
    #: v4+: ``$`` + URL-safe unpadded base64 of the reference hash.
    REFERENCE_HASH_URLSAFE = "reference_hash_urlsafe"


class RoomIdFormat(enum.Enum):
    """How a room's ID is obtained."""

    #: v1-v11: ``!opaque:server`` chosen by the creating server.
    SERVER_GENERATED = "server_generated"
    #: v12: ``!`` + the create event's reference hash (URL-safe), no server part.
    CREATE_EVENT_HASH = "create_event_hash"


class StateResAlgorithm(enum.Enum):
    V1 = "v1"
    V2 = "v2"
    #: v12 (MSC4297): v2 with an empty initial state set and the conflicted subgraph.
    V2_1 = "v2.1"


@dataclass(frozen=True, slots=True)
class AuthorizationRules:
    """Switches in the authorization rules."""

    #: v1-v5: ``m.room.aliases`` events are authorised by domain only.
    special_case_room_aliases: bool
    #: v1-v2: a redaction is allowed when the sender's domain matches the
    #: redacted event's domain (v3+ moved this check to redaction handling).
    special_case_redaction_domain: bool
    #: v6+ (MSC2209): ``notifications`` in power levels is checked on change.
    limit_notifications_power_levels: bool
    #: v7+ (MSC2403): ``knock`` membership and join rule.
    knocking: bool
    #: v8+ (MSC3083): ``restricted`` join rule.
    restricted_join_rule: bool
    #: v10+ (MSC3787): ``knock_restricted`` join rule.
    knock_restricted_join_rule: bool
    #: v10+ (MSC3667): power levels must be integers, not strings.
    integer_power_levels: bool
    #: v11+ (MSC2175): the creator is the create event's ``sender``; ``content.creator`` is gone.
    use_room_create_sender: bool
    #: v12 (MSC4289): creators have infinite power and cannot appear in power levels.
    explicitly_privilege_room_creators: bool
    #: v12 (MSC4289): ``content.additional_creators`` in the create event.
    additional_room_creators: bool
    #: v12 (MSC4291): the room ID is the create event ID; create is not in auth_events.
    room_create_event_id_as_room_id: bool


@dataclass(frozen=True, slots=True)
class RedactionRules:
    """Switches in the redaction algorithm."""

    #: v1-v5: keep ``aliases`` in ``m.room.aliases`` content.
    keep_room_aliases_aliases: bool
    #: v1-v10: keep the top-level ``origin``, ``membership`` and ``prev_state`` keys.
    keep_origin_membership_prev_state: bool
    #: v8+ (MSC3083): keep ``allow`` in ``m.room.join_rules``.
    keep_room_join_rules_allow: bool
    #: v9+ (MSC3375): keep ``join_authorised_via_users_server`` in ``m.room.member``.
    keep_room_member_join_authorised_via_users_server: bool
    #: v11+ (MSC2176): keep all of ``m.room.create`` content (not just ``creator``).
    keep_room_create_content: bool
    #: v11+ (MSC2176): keep ``redacts`` in ``m.room.redaction`` content.
    keep_room_redaction_redacts: bool
    #: v11+ (MSC2176): keep ``invite`` in ``m.room.power_levels``.
    keep_room_power_levels_invite: bool
    #: v11+ (MSC3821): keep ``third_party_invite.signed`` in ``m.room.member``.
    keep_room_member_third_party_invite_signed: bool


@dataclass(frozen=True, slots=True)
class EventFormatRules:
    """Switches in the shape of a PDU."""

    event_id_format: EventIdFormat
    room_id_format: RoomIdFormat
    #: v1-v2: ``prev_events``/``auth_events`` are ``[[event_id, {hashes}], ...]``;
    #: v3+: plain lists of event IDs.
    reference_pairs: bool
    #: v6+ (MSC2540): integers outside [-(2**53)+1, (2**53)-1] and floats are rejected.
    strict_canonical_json: bool
    #: v11+ (MSC2174): ``redacts`` lives in ``content`` of ``m.room.redaction``
    #: (a top-level copy is still accepted for compatibility).
    redacts_in_content: bool


@dataclass(frozen=True, slots=True)
class SignatureRules:
    """Which servers must have signed an event."""

    #: v1-v2: the server named in the event ID must also have signed it.
    check_event_id_server: bool
    #: v8+ (MSC3083): the server of ``join_authorised_via_users_server`` must have signed a join.
    check_join_authorised_via_users_server: bool


@dataclass(frozen=True, slots=True)
class RoomVersion:
    """Everything that differs between room versions."""

    identifier: str
    stable: bool
    state_res: StateResAlgorithm
    #: v5+ (MSC2077): signing keys are only valid before their ``valid_until_ts``.
    enforce_key_validity: bool
    auth: AuthorizationRules
    redaction: RedactionRules
    event_format: EventFormatRules
    signatures: SignatureRules


V1 = RoomVersion(
    identifier="1",
    stable=True,
    state_res=StateResAlgorithm.V1,
    enforce_key_validity=False,
    auth=AuthorizationRules(
        special_case_room_aliases=True,
        special_case_redaction_domain=True,
        limit_notifications_power_levels=False,
        knocking=False,
        restricted_join_rule=False,
        knock_restricted_join_rule=False,
        integer_power_levels=False,
        use_room_create_sender=False,
        explicitly_privilege_room_creators=False,
        additional_room_creators=False,
        room_create_event_id_as_room_id=False,
    ),
    redaction=RedactionRules(
        keep_room_aliases_aliases=True,
        keep_origin_membership_prev_state=True,
        keep_room_join_rules_allow=False,
        keep_room_member_join_authorised_via_users_server=False,
        keep_room_create_content=False,
        keep_room_redaction_redacts=False,
        keep_room_power_levels_invite=False,
        keep_room_member_third_party_invite_signed=False,
    ),
    event_format=EventFormatRules(
        event_id_format=EventIdFormat.SERVER_GENERATED,
        room_id_format=RoomIdFormat.SERVER_GENERATED,
        reference_pairs=True,
        strict_canonical_json=False,
        redacts_in_content=False,
    ),
    signatures=SignatureRules(
        check_event_id_server=True,
        check_join_authorised_via_users_server=False,
    ),
)

# v2 (MSC1442): state resolution v2.
V2 = replace(V1, identifier="2", state_res=StateResAlgorithm.V2)

# v3 (MSC1659): event IDs are reference hashes; redaction domain check moves out of auth.
V3 = replace(
    V2,
    identifier="3",
    auth=replace(V2.auth, special_case_redaction_domain=False),
    event_format=replace(
        V2.event_format,
        event_id_format=EventIdFormat.REFERENCE_HASH_BASE64,
        reference_pairs=False,
    ),
    signatures=replace(V2.signatures, check_event_id_server=False),
)

# v4 (MSC2002): URL-safe event IDs.
V4 = replace(
    V3,
    identifier="4",
    event_format=replace(V3.event_format, event_id_format=EventIdFormat.REFERENCE_HASH_URLSAFE),
)

# v5 (MSC2077): enforce signing key validity periods.
V5 = replace(V4, identifier="5", enforce_key_validity=True)

# v6 (MSC2432, MSC2209, MSC2540): no alias special case, notifications power
# levels, strict canonical JSON, aliases no longer survive redaction.
V6 = replace(
    V5,
    identifier="6",
    auth=replace(
        V5.auth, special_case_room_aliases=False, limit_notifications_power_levels=True
    ),
    redaction=replace(V5.redaction, keep_room_aliases_aliases=False),
    event_format=replace(V5.event_format, strict_canonical_json=True),
)

# v7 (MSC2403): knocking.
V7 = replace(V6, identifier="7", auth=replace(V6.auth, knocking=True))

# v8 (MSC3083): restricted join rules.
V8 = replace(
    V7,
    identifier="8",
    auth=replace(V7.auth, restricted_join_rule=True),
    redaction=replace(V7.redaction, keep_room_join_rules_allow=True),
    signatures=replace(V7.signatures, check_join_authorised_via_users_server=True),
)

# v9 (MSC3375): keep join_authorised_via_users_server through redaction.
V9 = replace(
    V8,
    identifier="9",
    redaction=replace(V8.redaction, keep_room_member_join_authorised_via_users_server=True),
)

# v10 (MSC3787, MSC3667): knock_restricted join rule, integer-only power levels.
V10 = replace(
    V9,
    identifier="10",
    auth=replace(V9.auth, knock_restricted_join_rule=True, integer_power_levels=True),
)

# v11 (MSC3820 family: MSC2174, MSC2175, MSC2176, MSC3821, MSC3989): redacts in
# content, creator from sender, new redaction algorithm.
V11 = replace(
    V10,
    identifier="11",
    auth=replace(V10.auth, use_room_create_sender=True),
    redaction=replace(
        V10.redaction,
        keep_origin_membership_prev_state=False,
        keep_room_create_content=True,
        keep_room_redaction_redacts=True,
        keep_room_power_levels_invite=True,
        keep_room_member_third_party_invite_signed=True,
    ),
    event_format=replace(V10.event_format, redacts_in_content=True),
)

# v12 (MSC4289, MSC4291, MSC4297): privileged creators, room ID from the create
# event, state resolution v2.1.
V12 = replace(
    V11,
    identifier="12",
    state_res=StateResAlgorithm.V2_1,
    auth=replace(
        V11.auth,
        explicitly_privilege_room_creators=True,
        additional_room_creators=True,
        room_create_event_id_as_room_id=True,
    ),
    event_format=replace(V11.event_format, room_id_format=RoomIdFormat.CREATE_EVENT_HASH),
)

#: Every room version this server understands, by identifier.
KNOWN_ROOM_VERSIONS: dict[str, RoomVersion] = {
    v.identifier: v for v in (V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12)
}

#: The spec advises servers to create new rooms with version 12.
DEFAULT_ROOM_VERSION = "12"


class UnknownRoomVersion(ValueError):
    """The room version identifier is not one this server implements."""


def get_room_version(identifier: str) -> RoomVersion:
    """Return the rules of room version ``identifier``.

    Raises :class:`UnknownRoomVersion` when the version is not implemented.
    """
    try:
        return KNOWN_ROOM_VERSIONS[identifier]
    except KeyError:
        raise UnknownRoomVersion(identifier) from None
