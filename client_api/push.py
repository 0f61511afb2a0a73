"""Push rules, pushers and the notifications list (spec: "Push Notifications")."""

from __future__ import annotations

from aiohttp import web

from client_api.auth import Authenticator
from homeserver.http import Route, json_response, query_int, read_json
from homeserver.errors import MatrixError
from homeserver.services.push import PushService
from homeserver.services.rooms.timeline import TimelineService
from storage.events import EventStore

V3 = "/_matrix/client/v3"
RULE = f"{V3}/pushrules/global/{{kind}}/{{rule_id}}"


class PushRoutes:
    def __init__(self, authenticator: Authenticator, push: PushService, timeline: TimelineService, events: EventStore) -> None:
        self._auth = authenticator
        self._push = push
        self._timeline = timeline
        self._events = events

    def routes(self) -> list[Route]:
        return [
            Route("GET", f"{V3}/pushrules/", self.all_rules),
            Route("GET", f"{V3}/pushrules/global/", self.global_rules),
            Route("GET", RULE, self.get_rule),
            Route("PUT", RULE, self.put_rule),
            Route("DELETE", RULE, self.delete_rule),
            Route("GET", f"{RULE}/enabled", self.get_enabled),
            Route("PUT", f"{RULE}/enabled", self.put_enabled),
            Route("GET", f"{RULE}/actions", self.get_actions),
            Route("PUT", f"{RULE}/actions", self.put_actions),
            Route("GET", f"{V3}/pushers", self.get_pushers),
            Route("POST", f"{V3}/pushers/set", self.set_pusher),
            Route("GET", f"{V3}/notifications", self.notifications),
        ]

    async def all_rules(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/pushrules/."""
        requester = await self._auth.requester(request)
        return json_response({"global": await self._push.ruleset(requester.user_id)})

    async def global_rules(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/pushrules/global/."""
        requester = await self._auth.requester(request)
        return json_response(await self._push.ruleset(requester.user_id))

    async def get_rule(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}."""
        requester = await self._auth.requester(request)
        return json_response(await self._push.get_rule(requester.user_id, *self._rule(request)))

    async def put_rule(self, request: web.Request) -> web.Response:
        """PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}."""
        requester = await self._auth.requester(request)
        body = await read_json(request)
        kind, rule_id = self._rule(request)
        await self._push.put_rule(requester, kind, rule_id, body, request.query.get("before"), request.query.get("after"))
        return json_response({})

    async def delete_rule(self, request: web.Request) -> web.Response:
        """DELETE /_matrix/client/v3/pushrules/global/{kind}/{ruleId}."""
        requester = await self._auth.requester(request)
        await self._push.delete_rule(requester, *self._rule(request))
        return json_response({})

    async def get_enabled(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled."""
        requester = await self._auth.requester(request)
        rule = await self._push.get_rule(requester.user_id, *self._rule(request))
        return json_response({"enabled": rule.get("enabled", True)})

    async def put_enabled(self, request: web.Request) -> web.Response:
        """PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled."""
        requester = await self._auth.requester(request)
        body = await read_json(request)
        if "enabled" not in body:
            raise MatrixError("M_MISSING_PARAM", "enabled is required")
        await self._push.set_attribute(requester, *self._rule(request), "enabled", body["enabled"])
        return json_response({})

    async def get_actions(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions."""
        requester = await self._auth.requester(request)
        rule = await self._push.get_rule(requester.user_id, *self._rule(request))
        return json_response({"actions": rule.get("actions", [])})

    async def put_actions(self, request: web.Request) -> web.Response:
        """PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions."""
        requester = await self._auth.requester(request)
        body = await read_json(request)
        if "actions" not in body:
            raise MatrixError("M_MISSING_PARAM", "actions is required")
        await self._push.set_attribute(requester, *self._rule(request), "actions", body["actions"])
        return json_response({})

    async def get_pushers(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/pushers."""
        requester = await self._auth.requester(request)
        return json_response({"pushers": await self._push.pushers(requester.user_id)})

    async def set_pusher(self, request: web.Request) -> web.Response:
        """POST /_matrix/client/v3/pushers/set."""
        requester = await self._auth.requester(request)
        await self._push.set_pusher(requester, await read_json(request))
        return json_response({})

    async def notifications(self, request: web.Request) -> web.Response:
        """GET /_matrix/client/v3/notifications."""
        requester = await self._auth.requester(request)
        limit = min(query_int(request, "limit", 20) or 20, 100)
        rows, next_token = await self._push.notifications(
            requester.user_id, request.query.get("from"), limit, request.query.get("only")
        )
        stored = await self._events.get_events(r.event_id for r in rows)
        serialized = {
            e["event_id"]: e
            for e in await self._timeline.serialize(requester, [stored[r.event_id] for r in rows if r.event_id in stored])
        }
        unread_after = {}
        notifications = []
        for row in rows:
            if row.event_id not in serialized:
                continue
            if row.room_id not in unread_after:
                unread_after[row.room_id] = await self._push.read_position(requester.user_id, row.room_id)
            notifications.append({
                "actions": row.actions,
                "event": serialized[row.event_id],
                "room_id": row.room_id,
                "read": row.stream_ordering <= unread_after[row.room_id],
                "ts": serialized[row.event_id]["origin_server_ts"],
            })
        body: dict[str, object] = {"notifications": notifications}
        if next_token is not None:
            body["next_token"] = next_token
        return json_response(body)

    @staticmethod
    def _rule(request: web.Request) -> tuple[str, str]:
        return request.match_info["kind"], request.match_info["rule_id"]
