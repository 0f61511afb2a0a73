"""Push rules (CRUD), their evaluation for each new event, unread counts and
pushers (spec: Client-Server API, "Push Notifications").

Design note: evaluation runs inside the transaction that persists the event,
for every local member of the room but the sender, and writes one row per
notified user. Unread counts are those rows after the user's read receipts,
so a count and the event that raised it become visible in the same /sync.
Rulesets are cached per user and replaced when the user changes them; the
merged ruleset is also published as the ``m.push_rules`` account data.
Delivering notifications to push gateways is not done yet: pushers are stored
and listed so clients can register them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import structlog

from homeserver.clock import Clock
from homeserver.core import power_levels as pl
from homeserver.core.events import Event
from homeserver.core.glob import Budget
from homeserver.core.push_rules import KINDS, MAX_PATTERN_LENGTH, RULESET_BUDGET, PushContext, evaluate, merge_rules, pattern_allowed
from homeserver.errors import MatrixError
from homeserver.parsing import parse_int
from homeserver.services.account_data import AccountDataService
from homeserver.services.auth import Requester
from storage.push import PushStore
from storage.read_cache import MISSING, ReadCache
from storage.push_actions import EVERYONE, NotificationStore, PushAction
from storage.receipts import ReceiptStore
from storage.rooms import RoomStore

logger = structlog.get_logger(__name__)

#: The push gateway endpoint an http pusher's ``data.url`` must name (spec: Push Gateway API).
NOTIFY_PATH = "/_matrix/push/v1/notify"
#: Limits the spec sets on ``/pushers/set``.
MAX_PUSHKEY_BYTES = 512
MAX_APP_ID_CHARS = 64

StateMap = Mapping[tuple[str, str], Event]


class PushService:
    def __init__(
        self,
        *,
        store: PushStore,
        notifications: NotificationStore,
        rooms: RoomStore,
        receipts: ReceiptStore,
        account_data: AccountDataService,
        clock: Clock,
        server_name: str,
    ) -> None:
        self._store = store
        self._notifications = notifications
        self._rooms = rooms
        self._receipts = receipts
        self._account_data = account_data
        self._clock = clock
        self._server_name = server_name
        #: user -> (merged ruleset, whether the user changed anything)
        #: (Push rules are written only outside the event transactions that read them.)
        self._cache: ReadCache[str, tuple[dict[str, list[dict[str, Any]]], bool]] = ReadCache(
            store.db, "push_rules", 10_000, fill_in_transactions=True
        )
        #: The predefined rules of a user who is neither mentioned nor targeted.
        self._bystander_rules = merge_rules("", {})

    # -- rulesets ------------------------------------------------------------------------

    async def ruleset(self, user_id: str) -> dict[str, list[dict[str, Any]]]:
        return (await self._cached(user_id))[0]

    async def _cached(self, user_id: str) -> tuple[dict[str, list[dict[str, Any]]], bool]:
        cached = self._cache.get(user_id)
        if cached is MISSING:
            ticket = self._cache.ticket()
            custom = await self._store.get_custom_rules(user_id)
            cached = (merge_rules(user_id, custom), bool(custom.get("rules") or custom.get("defaults")))
            self._cache.fill(ticket, user_id, cached)
        return cached  # type: ignore[return-value]

    async def get_rule(self, user_id: str, kind: str, rule_id: str) -> dict[str, Any]:
        _check_kind(kind)
        for rule in (await self.ruleset(user_id))[kind]:
            if rule["rule_id"] == rule_id:
                return rule
        raise MatrixError("M_NOT_FOUND", "No such push rule")

    async def put_rule(
        self, requester: Requester, kind: str, rule_id: str, body: dict[str, Any], before: str | None, after: str | None
    ) -> None:
        """Create or replace one of the user's own rules."""
        _check_kind(kind)
        if rule_id.startswith(".") or "/" in rule_id or "\\" in rule_id:
            raise MatrixError("M_INVALID_PARAM", "Rule IDs may not start with '.' or contain slashes")
        actions = _check_actions(body.get("actions"))
        rule: dict[str, Any] = {"rule_id": rule_id, "enabled": True, "actions": actions}
        if kind in ("override", "underride"):
            conditions = body.get("conditions", [])
            if not isinstance(conditions, list) or not all(isinstance(c, dict) and isinstance(c.get("kind"), str) for c in conditions):
                raise MatrixError("M_BAD_JSON", "conditions must be an array of condition objects")
            for condition in conditions:
                _check_globs(condition)
            rule["conditions"] = conditions
        elif kind == "content":
            if not isinstance(body.get("pattern"), str):
                raise MatrixError("M_MISSING_PARAM", "Content rules need a pattern")
            _check_globs(body)
            rule["pattern"] = body["pattern"]
        custom = await self._store.get_custom_rules(requester.user_id)
        own: list[dict[str, Any]] = custom.setdefault("rules", {}).setdefault(kind, [])
        existing = next((i for i, r in enumerate(own) if r["rule_id"] == rule_id), None)
        if existing is not None:
            rule["enabled"] = own[existing].get("enabled", True)
            own.pop(existing)
        anchor = before or after
        if anchor is not None:
            position = next((i for i, r in enumerate(own) if r["rule_id"] == anchor), None)
            if position is None:
                raise MatrixError("M_UNKNOWN", f"before/after rule not found: {anchor}", status=400)
            own.insert(position if before else position + 1, rule)
        elif existing is not None:
            own.insert(existing, rule)
        else:
            own.insert(0, rule)
        await self._save(requester.user_id, custom)

    async def delete_rule(self, requester: Requester, kind: str, rule_id: str) -> None:
        _check_kind(kind)
        custom = await self._store.get_custom_rules(requester.user_id)
        own = custom.get("rules", {}).get(kind, [])
        remaining = [r for r in own if r["rule_id"] != rule_id]
        if len(remaining) == len(own):
            raise MatrixError("M_NOT_FOUND", "No such push rule")
        custom["rules"][kind] = remaining
        await self._save(requester.user_id, custom)

    async def set_attribute(self, requester: Requester, kind: str, rule_id: str, attribute: str, value: Any) -> None:
        """Set ``enabled`` or ``actions`` of a user or predefined rule."""
        await self.get_rule(requester.user_id, kind, rule_id)  # 404 if unknown
        if attribute == "enabled" and not isinstance(value, bool):
            raise MatrixError("M_BAD_JSON", "enabled must be a boolean")
        if attribute == "actions":
            value = _check_actions(value)
        custom = await self._store.get_custom_rules(requester.user_id)
        if rule_id.startswith("."):
            custom.setdefault("defaults", {}).setdefault(rule_id, {})[attribute] = value
        else:
            for rule in custom.get("rules", {}).get(kind, []):
                if rule["rule_id"] == rule_id:
                    rule[attribute] = value
        await self._save(requester.user_id, custom)

    async def _save(self, user_id: str, custom: dict[str, Any]) -> None:
        await self._store.set_custom_rules(user_id, custom)
        self._cache.invalidate([user_id])
        merged = await self.ruleset(user_id)
        await self._account_data.put_internal(user_id, "", "m.push_rules", {"global": copy.deepcopy(merged)})

    # -- evaluation ------------------------------------------------------------------------

    async def on_event(self, event: Event, stream: int, auth_state: StateMap, members: list[str]) -> None:
        """Record who this new event notifies (inside the event's transaction)."""
        await self.record(await self.notified_by(event, stream, auth_state, members))

    async def record(self, actions: list[PushAction]) -> None:
        """Store notification actions (inside their events' transaction)."""
        if actions:
            await self._notifications.add(actions)

    async def notified_by(self, event: Event, stream: int, auth_state: StateMap, members: list[str]) -> list[PushAction]:
        """Whom this new event notifies, and how (to :meth:`record` with the event).

        ``members`` are the room's joined members; an invite also notifies its target.
        """
        candidates = list(members)
        if event.type == "m.room.member" and event.membership == "invite" and event.state_key:
            candidates.append(event.state_key)
        ours = ":" + self._server_name  # (a localpart never holds a colon)
        local = [u for u in candidates if u != event.sender and u.endswith(ours)]
        if not local:
            return []
        member_count = len(members)
        levels = {"room": pl.notification_level("room", auth_state)}
        sender_level = pl.user_power_level(event.sender, auth_state)
        client_event = {**event.pdu(), "content": dict(event.content)}
        thread_id = _thread_of(event)
        # The predefined rules depend on the user only through mentions and the
        # state key, so users who kept them and are neither share one decision,
        # stored once for everyone (see storage.push_actions); the others get a row
        # of their own where their decision differs.
        singled_out = _mentioned_users(event)
        shared = evaluate(self._bystander_rules, client_event, PushContext("", member_count, None, sender_level, levels))
        joined = set(members)
        actions: list[PushAction] = []
        covered = 0  # joined members the shared row stands for
        for user_id in local:
            cached = self._cache.get(user_id)
            ruleset, customised = cached if cached is not MISSING else await self._cached(user_id)  # type: ignore[misc]
            if not customised and user_id not in singled_out:
                covered += 1
                continue
            budget = Budget(RULESET_BUDGET)
            decision = evaluate(ruleset, client_event, PushContext(user_id, member_count, None, sender_level, levels), budget)
            if budget.exhausted:
                logger.warning("push_rules_over_budget", user_id=user_id, event_id=event.event_id)
            if user_id in joined and decision == shared:
                covered += 1
            elif decision.notify or (shared.notify and user_id in joined):
                # Their own row: how they are notified, or (notify false) that they are not.
                actions.append(PushAction(
                    user_id, event.event_id, event.room_id, stream, thread_id, decision.highlight, decision.actions,
                    notify=decision.notify, sender=event.sender,
                ))
        if shared.notify and covered:
            actions.append(PushAction(
                EVERYONE, event.event_id, event.room_id, stream, thread_id, shared.highlight, shared.actions,
                sender=event.sender,
            ))
        return actions

    async def read_position(self, user_id: str, room_id: str) -> int:
        """How far the user has read the room (their furthest unthreaded receipt)."""
        return (await self._read_positions(user_id, room_id))[0]

    async def _read_positions(self, user_id: str, room_id: str) -> tuple[int, dict[str, int]]:
        unthreaded = 0
        threaded: dict[str, int] = {}
        for receipt in await self._receipts.for_user(user_id, room_id):
            if receipt.thread_id:
                threaded[receipt.thread_id] = max(threaded.get(receipt.thread_id, 0), receipt.event_stream)
            else:
                unthreaded = max(unthreaded, receipt.event_stream)
        return unthreaded, threaded

    async def unread(self, user_id: str, room_id: str, with_threads: bool, up_to: int) -> dict[str, Any]:
        """``unread_notifications`` (and ``unread_thread_notifications``) for /sync, counting
        the events up to ``up_to`` (the sync's position)."""
        unthreaded, threaded = await self._read_positions(user_id, room_id)
        membership = (await self._rooms.current_memberships_of_user(user_id)).get(room_id, ("", "", 0))[2]
        counts = await self._notifications.unread_counts(user_id, room_id, unthreaded, threaded, up_to, membership)
        result: dict[str, Any] = {}
        if with_threads:
            main = counts.pop("main", (0, 0))
            result["unread_notifications"] = {"notification_count": main[0], "highlight_count": main[1]}
            result["unread_thread_notifications"] = {
                thread: {"notification_count": n, "highlight_count": h} for thread, (n, h) in counts.items()
            }
        else:
            total_n = sum(n for n, _ in counts.values())
            total_h = sum(h for _, h in counts.values())
            result["unread_notifications"] = {"notification_count": total_n, "highlight_count": total_h}
        return result

    async def notifications(self, user_id: str, since: str | None, limit: int, only: str | None) -> tuple[list[PushAction], str | None]:
        before = parse_int(since, "The from token", minimum=0) if since is not None else None
        rows = await self._notifications.notifications(user_id, before, limit, only == "highlight")
        next_token = str(rows[-1].stream_ordering) if len(rows) == limit else None
        return rows, next_token

    # -- pushers ------------------------------------------------------------------------------

    async def set_pusher(self, requester: Requester, body: dict[str, Any]) -> None:
        for key in ("pushkey", "kind", "app_id"):
            if not isinstance(body.get(key), str) and not (key == "kind" and body.get(key) is None):
                raise MatrixError("M_MISSING_PARAM", f"{key} is required")
        if body.get("kind") is None:
            await self._store.delete_pusher(requester.user_id, body["app_id"], body["pushkey"])
            return
        if body["kind"] not in ("http", "email"):
            raise MatrixError("M_INVALID_PARAM", "kind must be http or email (or null to delete)")
        data = body.get("data")
        if not isinstance(data, dict):
            raise MatrixError("M_MISSING_PARAM", "data is required")
        if body["kind"] == "http":
            if not isinstance(data.get("url"), str):
                raise MatrixError("M_MISSING_PARAM", "data.url is required for http pushers")
            _check_gateway_url(data["url"])
        if len(body["pushkey"].encode()) > MAX_PUSHKEY_BYTES or len(body["app_id"]) > MAX_APP_ID_CHARS:
            raise MatrixError(
                "M_INVALID_PARAM", f"pushkey is limited to {MAX_PUSHKEY_BYTES} bytes, app_id to {MAX_APP_ID_CHARS} characters"
            )
        for key in ("app_display_name", "device_display_name", "lang"):
            if not isinstance(body.get(key), str):
                raise MatrixError("M_MISSING_PARAM", f"{key} is required")
        details = {k: v for k, v in body.items() if k not in ("pushkey", "kind", "app_id", "append")}
        await self._store.set_pusher(
            requester.user_id, body["app_id"], body["pushkey"], body["kind"], details, requester.device_id,
            self._clock.time_ms(), append=body.get("append") is True,
        )

    async def pushers(self, user_id: str) -> list[dict[str, Any]]:
        return await self._store.pushers(user_id)


def _check_globs(holder: Mapping[str, Any]) -> None:
    """Refuse a rule's pattern or condition whose ``pattern`` or ``key`` is too long to evaluate."""
    for name in ("pattern", "key"):
        value = holder.get(name)
        if isinstance(value, str) and not pattern_allowed(value):
            raise MatrixError("M_INVALID_PARAM", f"A push rule's {name} may hold at most {MAX_PATTERN_LENGTH} characters")

def _check_gateway_url(url: str) -> None:
    """A push gateway URL: http(s), a host, and the path of the gateway API's notify
    endpoint (spec: ``POST /pushers/set``, ``data.url``)."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if (
        parts is None or parts.scheme not in ("http", "https") or not parts.hostname
        or parts.username is not None or parts.password is not None
        or parts.path != NOTIFY_PATH or parts.fragment
    ):
        raise MatrixError("M_INVALID_PARAM", f"data.url must be an http(s) URL with the path {NOTIFY_PATH}")


def _mentioned_users(event: Event) -> set[str]:
    """Users the predefined rules treat specially for this event."""
    users = {event.state_key} if event.state_key else set()
    mentions = event.content.get("m.mentions")
    if isinstance(mentions, Mapping) and isinstance(mentions.get("user_ids"), list):
        users.update(u for u in mentions["user_ids"] if isinstance(u, str))
    return users


def _thread_of(event: Event) -> str:
    relates = event.content.get("m.relates_to")
    if isinstance(relates, Mapping) and relates.get("rel_type") == "m.thread" and isinstance(relates.get("event_id"), str):
        return relates["event_id"]
    return "main"


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise MatrixError("M_INVALID_PARAM", f"Unknown push rule kind {kind!r}")


def _check_actions(actions: Any) -> list[Any]:
    if not isinstance(actions, list):
        raise MatrixError("M_BAD_JSON", "actions must be an array")
    for action in actions:
        if isinstance(action, str):
            if action not in ("notify", "dont_notify", "coalesce"):
                raise MatrixError("M_INVALID_PARAM", f"Unknown action {action!r}")
        elif not (isinstance(action, dict) and isinstance(action.get("set_tweak"), str)):
            raise MatrixError("M_INVALID_PARAM", "Actions are strings or set_tweak objects")
    return [a for a in actions if a not in ("dont_notify", "coalesce")]
