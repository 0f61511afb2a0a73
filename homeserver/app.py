"""The one place where Hearth is wired together.

:func:`create_app` builds the database, stores, services and HTTP routes in
dependency order and registers their start/stop with aiohttp's ``cleanup_ctx``.
Everything a component needs is passed to its constructor; nothing is global.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import structlog
from aiohttp import web

from client_api.account import AccountRoutes
from client_api.account_data import AccountDataRoutes
from client_api.admin.media import MediaAdminRoutes
from client_api.admin.register import SharedSecretRoutes
from client_api.admin.registration_tokens import RegistrationTokenRoutes
from client_api.admin.users import UserAdminRoutes
from client_api.auth import Authenticator
from client_api.capabilities import CapabilitiesRoutes
from client_api.openid import OpenIdRoutes
from client_api.voip import VoipRoutes
from client_api.devices import DeviceRoutes
from client_api.directory import DirectoryRoutes
from client_api.discovery import DiscoveryRoutes
from client_api.ephemeral import EphemeralRoutes
from client_api.filters import FilterRoutes
from homeserver.http import add_routes
from client_api.keys import KeyRoutes
from client_api.legacy_sync import LegacySyncRoutes
from client_api.media import MediaRoutes
from client_api.oauth import OAuthRoutes
from client_api.pages.account import AccountPages
from client_api.pages.authorize import OAuthPages
from client_api.pages.render import Pages, StaticRoutes
from client_api.middleware import MIDDLEWARES
from client_api.profile import ProfileRoutes
from client_api.push import PushRoutes
from client_api.register import RegisterRoutes
from client_api.relations import RelationRoutes
from client_api.room_keys import RoomKeyRoutes
from client_api.rooms import RoomRoutes
from client_api.search import SearchRoutes
from client_api.second_factor import SecondFactorRoutes
from client_api.session import SessionRoutes
from client_api.spaces import SpaceRoutes
from client_api.sync import SyncRoutes
from client_api.webclient import WebClientRoutes
from federation.auth import FederationAuthenticator
from federation.client import FederationClient, tls_context
from federation.keys import NOTARY_CONCURRENCY, KeyRing
from federation.routes import KeyRoutes as ServerKeyRoutes
from federation.queries import FederationQueryClient
from federation.routes import EventReadRoutes, MembershipRoutes, QueryRoutes, TransactionRoutes, UserKeyRoutes
from federation.routes import MediaRoutes as FederationMediaRoutes
from federation.routes import OpenIdRoutes as FederationOpenIdRoutes
from federation.sender import FederationSender
from homeserver import metrics
from homeserver.clock import Clock
from homeserver.config import Config
from homeserver.connections import ConnectionGuard, ListenerLimits
from homeserver.outbound import OutboundPolicy
from homeserver.services.account_data import AccountDataService
from homeserver.services.accounts import AccountService
from homeserver.services.auth import AuthService
from homeserver.services.devices import DeviceService
from homeserver.services.directory import DirectoryService
from homeserver.services.e2ee.cross_signing import CrossSigningService
from homeserver.services.e2ee.device_lists import DeviceListService
from homeserver.services.e2ee.key_backup import KeyBackupService
from homeserver.services.e2ee.keys import KeyService
from homeserver.services.e2ee.local_keys import LocalKeys
from homeserver.services.e2ee.remote_device_lists import RemoteDeviceLists
from homeserver.services.e2ee.to_device import ToDeviceService
from homeserver.services.federation_inbox import FederationInbox
from homeserver.services.filters import FilterService
from homeserver.services.media.service import MediaService
from homeserver.services.notifier import Notifier
from homeserver.services.oauth.service import OAuthService
from homeserver.services.deactivation import Deactivation
from homeserver.services.passwords import PasswordHasher
from homeserver.services.presence import PresenceService
from homeserver.services.receipts import ReceiptService
from homeserver.services.profiles import ProfileService
from homeserver.services.push import PushService
from homeserver.services.ratelimit import RateLimiter
from homeserver.services.openid import OpenIdService
from homeserver.services.turn import TurnService
from homeserver.services.ports import NoFederation
from homeserver.services.registration import RegistrationService
from homeserver.services.reports import ReportService
from homeserver.services.rooms.creation import RoomCreator
from homeserver.services.rooms.guest_access import GuestAccess
from homeserver.services.rooms.membership import MembershipService
from homeserver.services.rooms.messages import MessageService
from homeserver.services.rooms.relations import RelationsService
from homeserver.services.rooms.redactions import Redactions
from homeserver.services.rooms.remote import RemoteEvents
from homeserver.services.rooms.remote_membership import RemoteMembership
from homeserver.services.rooms.server_reads import ServerReads
from homeserver.services.rooms.sender import EventSender
from homeserver.services.rooms.member_updates import MemberUpdates
from homeserver.services.rooms.serializer import EventSerializer
from homeserver.services.rooms.visibility import EventVisibility
from homeserver.services.rooms.summary import RoomSummaries
from homeserver.services.rooms.timeline import TimelineService
from homeserver.services.rooms.upgrade import RoomUpgrader
from homeserver.services.search import SearchService, UserDirectoryService
from homeserver.services.second_factor import SecondFactorService
from homeserver.services.shared_secret import SharedSecretRegistration
from homeserver.services.remote_spaces import RemoteSpaces
from homeserver.services.spaces import SpaceService
from homeserver.services.sync.legacy import LegacySync
from homeserver.services.sync.service import SyncService
from homeserver.services.typing import TypingService
from homeserver.services.uia import UIAService
from homeserver.services.user_admin import UserAdminService
from homeserver.services.web_sessions import WebSessionService
from storage.account_data import ACCOUNT_DATA_STREAM, AccountDataStore, FilterStore
from storage.accounts import AccountStore
from storage.database import Database, connect
from storage.device_lists import DEVICE_LISTS_STREAM, DeviceListStore
from storage.devices import DeviceStore
from storage.e2e_keys import KeyStore
from storage.remote_device_lists import RemoteDeviceListStore
from storage.events import EVENTS_STREAM, EventStore
from storage.federation_queue import FederationQueueStore
from storage.key_backup import KeyBackupStore
from storage.lazy_members import LazyMemberStore
from storage.media import MediaStore
from storage.media_files import MediaFiles
from storage.member_updates import MemberUpdateStore
from storage.migrations import migrate
from storage.oauth import OAuthStore
from storage.push import PushStore
from storage.push_actions import NotificationStore
from storage.receipts import PRESENCE_STREAM, RECEIPTS_STREAM, PresenceStore, ReceiptStore
from storage.registration import RegistrationStore
from storage.reports import ReportStore
from storage.relations import RelationStore
from storage.rooms import AliasStore, RoomStore
from storage.search import SearchStore
from storage.second_factor import SecondFactorStore
from storage.server_keys import ServerKeyStore
from storage.state import StateStore
from storage.to_device import TO_DEVICE_STREAM, ToDeviceStore
from storage.openid_tokens import OpenIdTokenStore
from storage.web_sessions import WebSessionStore
from storage.streams import current_position
from homeserver.signing_keys import load_signing_key

logger = structlog.get_logger(__name__)

#: Seconds between sweeps of expired UIA sessions and old nonces.
_HOUSEKEEPING_INTERVAL = 300


@dataclass
class Hearth:
    """The built server: its config, database and services (for the CLI and tests)."""

    config: Config
    clock: Clock
    db: Database
    accounts: AccountService
    auth: AuthService
    devices: DeviceService
    registration: RegistrationService
    uia: UIAService
    second_factor: SecondFactorService
    oauth: OAuthService
    web_sessions: WebSessionService
    notifier: Notifier
    profiles: ProfileService
    account_data: AccountDataService
    filters: FilterService
    shared_secret: SharedSecretRegistration
    user_admin: UserAdminService
    deactivation: Deactivation
    member_updates: MemberUpdates
    room_creator: RoomCreator
    membership: MembershipService
    messages: MessageService
    timeline: TimelineService
    sync: SyncService
    legacy_sync: LegacySync
    typing: TypingService
    receipts: ReceiptService
    presence: PresenceService
    directory: DirectoryService
    summaries: RoomSummaries
    push: PushService
    event_store: EventStore
    relations: RelationsService
    search: SearchService
    user_directory: UserDirectoryService
    upgrader: RoomUpgrader
    spaces: SpaceService
    reports: ReportService
    account_store: AccountStore
    account_data_store: AccountDataStore
    filter_store: FilterStore
    registration_store: RegistrationStore
    keys: KeyService
    cross_signing: CrossSigningService
    device_lists: DeviceListService
    to_device: ToDeviceService
    key_backups: KeyBackupService
    media: MediaService
    turn: TurnService
    openid: OpenIdService
    #: Threads for image work (thumbnails, media files) and for password hashing.
    media_pool: ThreadPoolExecutor
    password_pool: ThreadPoolExecutor
    federation_client: FederationClient
    notary_client: FederationClient
    keyring: KeyRing
    remote_events: RemoteEvents
    remote_membership: RemoteMembership
    server_reads: ServerReads
    federation_sender: FederationSender | None
    federation_inbox: FederationInbox


def build_hearth(config: Config, *, clock: Clock | None = None, db: Database | None = None) -> Hearth:
    """Construct every store and service (nothing is opened or started yet)."""
    clock = clock or Clock()
    db = db or connect(
        config.database.url, base_dir=Path(config.config_dir), pool_size=config.database.pool_size
    )
    metrics.watch_database(db)
    signing_key = load_signing_key(config.path(config.signing_key_path))
    federation_config = config.federation
    client_options = dict(
        server_name=config.server_name,
        signing_key=signing_key,
        tls=tls_context(
            verify=federation_config.verify_certificates,
            ca_bundle=config.path(federation_config.ca_bundle_path) if federation_config.ca_bundle_path else None,
        ),
        addresses=federation_config.server_addresses,
        clock=clock,
        policy=OutboundPolicy.from_config(config.outbound),
    )
    federation_client = FederationClient(**client_options)
    # The notary API works for strangers: its own small pool, one request per destination.
    notary_client = FederationClient(**client_options, max_connections=NOTARY_CONCURRENCY, per_destination=1)
    queries = FederationQueryClient(federation_client) if federation_config.enabled else NoFederation()
    federation_queue = FederationQueueStore(db)
    federation_sender = FederationSender(
        store=federation_queue, client=federation_client, clock=clock, server_name=config.server_name,
    ) if federation_config.enabled else None
    outbound = federation_sender or NoFederation()
    account_store = AccountStore(db)
    device_store = DeviceStore(db)
    registration_store = RegistrationStore(db)
    account_data_store = AccountDataStore(db)
    filter_store = FilterStore(db)

    notifier = Notifier()
    room_store = RoomStore(db)
    key_store = KeyStore(db)
    local_keys = LocalKeys(key_store)
    remote_device_lists = RemoteDeviceLists(db, RemoteDeviceListStore(db), queries)
    device_lists = DeviceListService(
        db, DeviceListStore(db), room_store, notifier, outbound, local_keys, remote_device_lists, config.server_name
    )
    rate_limiter = RateLimiter(config.rate_limits, clock)
    # Media work and password hashing each get their own bounded pool: neither can starve the other.
    media_pool = ThreadPoolExecutor(max_workers=config.media.thumbnail_workers, thread_name_prefix="hearth-media")
    password_pool = ThreadPoolExecutor(
        max_workers=config.auth.password_hashing.workers, thread_name_prefix="hearth-passwords"
    )
    passwords = PasswordHasher(config.auth.password_hashing, password_pool)
    auth = AuthService(device_store, config.auth, clock)
    second_factor = SecondFactorService(
        SecondFactorStore(db), rate_limiter, clock, config.auth.two_factor, config.server_name
    )
    oauth_store = OAuthStore(db)
    uia = UIAService(
        registration_store, account_store, passwords, rate_limiter, second_factor, clock, config.server_name,
        oauth=oauth_store, account_url=config.public_baseurl.rstrip("/") + "/_hearth/account/",
    )
    accounts = AccountService(
        accounts=account_store,
        devices=device_store,
        account_data=account_data_store,
        auth=auth,
        passwords=passwords,
        rate_limiter=rate_limiter,
        device_lists=device_lists,
        uia=uia,
        second_factor=second_factor,
        config=config,
        clock=clock,
    )
    devices = DeviceService(device_store, uia, device_lists)
    oauth = OAuthService(
        store=oauth_store, devices=device_store, device_service=devices, auth=auth, accounts=account_store,
        rate_limiter=rate_limiter, config=config, clock=clock,
    )
    registration = RegistrationService(
        accounts=accounts,
        uia=uia,
        store=registration_store,
        rate_limiter=rate_limiter,
        config=config.registration,
        clock=clock,
    )
    account_data = AccountDataService(account_data_store, notifier)
    receipt_store = ReceiptStore(db)
    event_store = EventStore(db)
    state_store = StateStore(db)
    alias_store = AliasStore(db)
    relation_store = RelationStore(db)
    search_store = SearchStore(db)
    push_store = PushStore(db)
    push = PushService(
        store=push_store,
        notifications=NotificationStore(db),
        rooms=room_store,
        receipts=receipt_store,
        account_data=account_data,
        clock=clock,
        server_name=config.server_name,
    )
    event_sender = EventSender(
        db=db,
        events=event_store,
        state=state_store,
        rooms=room_store,
        relations=relation_store,
        search=search_store,
        redactions=Redactions(events=event_store, relations=relation_store, search=search_store),
        notifier=notifier,
        federation=outbound,
        push=push,
        clock=clock,
        server_name=config.server_name,
        signing_key=signing_key,
    )
    guest_access = GuestAccess(sender=event_sender, rooms=room_store, state=state_store, events=event_store)
    keyring = KeyRing(
        server_name=config.server_name, signing_key=signing_key, store=ServerKeyStore(db),
        client=federation_client, notary_client=notary_client, notaries=federation_config.trusted_key_servers,
        clock=clock,
    )
    remote_events = RemoteEvents(
        sender=event_sender, events=event_store, state=state_store, rooms=room_store, keys=keyring, federation=queries,
        server_name=config.server_name, guest_access=guest_access,
    )
    visibility = EventVisibility(
        events=event_store, state=state_store, rooms=room_store, account_data=account_data_store, accounts=account_store
    )
    serializer = EventSerializer(event_store, room_store, relation_store, clock, visibility)
    timeline = TimelineService(
        events=event_store, state=state_store, rooms=room_store, visibility=visibility, serializer=serializer,
        backfill=remote_events.backfill,
    )
    typing = TypingService(room_store, notifier, outbound, clock, config.server_name, rate_limiter)
    receipts = ReceiptService(
        receipts=receipt_store,
        events=event_store,
        rooms=room_store,
        account_data=account_data,
        notifier=notifier,
        federation=outbound,
        clock=clock,
        server_name=config.server_name,
    )
    presence = PresenceService(
        presence=PresenceStore(db),
        rooms=room_store,
        accounts=account_store,
        notifier=notifier,
        federation=outbound,
        clock=clock,
        server_name=config.server_name,
    )
    summaries = RoomSummaries(room_store, state_store, event_store)
    remote_membership = RemoteMembership(
        db=db, remote=remote_events, sender=event_sender, events=event_store, state=state_store, rooms=room_store,
        accounts=account_store, federation=queries, outbound=outbound, clock=clock, server_name=config.server_name,
        signing_key=signing_key,
    )
    directory = DirectoryService(
        aliases=alias_store,
        rooms=room_store,
        state=state_store,
        events=event_store,
        summaries=summaries,
        clock=clock,
        federation=queries,
        server_name=config.server_name,
    )
    room_creator = RoomCreator(
        db=db,
        sender=event_sender,
        remote=remote_membership,
        rooms=room_store,
        aliases=alias_store,
        clock=clock,
        server_name=config.server_name,
        default_version=config.rooms.default_version,
        rate_limiter=rate_limiter,
        accounts=account_store,
    )
    to_device = ToDeviceService(
        db, ToDeviceStore(db), device_store, key_store, notifier, outbound, clock, config.server_name, rate_limiter
    )
    membership = MembershipService(
        remote=remote_membership,
        federation=queries,
        sender=event_sender,
        rooms=room_store,
        aliases=alias_store,
        state=state_store,
        events=event_store,
        accounts=account_store,
        rate_limiter=rate_limiter,
        guest_access=guest_access,
        server_name=config.server_name,
    )
    member_updates = MemberUpdates(
        db=db, store=MemberUpdateStore(db), rooms=room_store, membership=membership
    )
    deactivation = Deactivation(
        db=db, accounts=accounts, store=account_store, pushers=push_store, member_updates=member_updates
    )
    sync = SyncService(
        events=event_store,
        state=state_store,
        rooms=room_store,
        account_data=account_data_store,
        timeline=timeline,
        serializer=serializer,
        notifier=notifier,
        typing=typing,
        receipts=receipts,
        presence=presence,
        push=push,
        to_device=to_device,
        device_lists=device_lists,
        lazy_members=LazyMemberStore(db),
    )
    return Hearth(
        config=config,
        clock=clock,
        db=db,
        accounts=accounts,
        auth=auth,
        devices=devices,
        registration=registration,
        uia=uia,
        second_factor=second_factor,
        oauth=oauth,
        web_sessions=WebSessionService(WebSessionStore(db), accounts, second_factor, clock, config.auth),
        notifier=notifier,
        profiles=ProfileService(account_store, queries, config.server_name, rate_limiter, member_updates),
        account_data=account_data,
        filters=FilterService(filter_store),
        shared_secret=SharedSecretRegistration(
            secret=config.registration.shared_secret,
            accounts=accounts,
            store=registration_store,
            clock=clock,
            rate_limiter=rate_limiter,
        ),
        user_admin=UserAdminService(accounts, account_store, deactivation, member_updates),
        deactivation=deactivation,
        member_updates=member_updates,
        room_creator=room_creator,
        membership=membership,
        messages=MessageService(
            sender=event_sender,
            events=event_store,
            state=state_store,
            rooms=room_store,
            directory=directory,
            guest_access=guest_access,
            rate_limiter=rate_limiter,
        ),
        timeline=timeline,
        sync=sync,
        legacy_sync=LegacySync(
            sync=sync, events=event_store, rooms=room_store, account_data=account_data_store, timeline=timeline,
            serializer=serializer, notifier=notifier, presence=presence, push=push,
        ),
        typing=typing,
        receipts=receipts,
        presence=presence,
        summaries=summaries,
        push=push,
        event_store=event_store,
        relations=RelationsService(relation_store, event_store, timeline),
        search=SearchService(search=search_store, events=event_store, rooms=room_store, timeline=timeline),
        user_directory=UserDirectoryService(rooms=room_store, accounts=account_store),
        upgrader=RoomUpgrader(
            db=db, creator=room_creator, sender=event_sender, rooms=room_store, aliases=alias_store,
            state=state_store, events=event_store,
        ),
        spaces=SpaceService(
            rooms=room_store, state=state_store, events=event_store, summaries=summaries, membership=membership,
            remote=RemoteSpaces(queries, clock, config.server_name),
        ),
        reports=ReportService(
            reports=ReportStore(db), events=event_store, rooms=room_store, accounts=account_store,
            timeline=timeline, clock=clock, server_name=config.server_name,
        ),
        directory=directory,
        account_store=account_store,
        account_data_store=account_data_store,
        filter_store=filter_store,
        registration_store=registration_store,
        keys=KeyService(db, key_store, local_keys, device_lists, remote_device_lists, queries, config.server_name),
        cross_signing=CrossSigningService(db, key_store, device_lists, remote_device_lists, uia, config.server_name),
        device_lists=device_lists,
        to_device=to_device,
        key_backups=KeyBackupService(db, KeyBackupStore(db)),
        media=MediaService(
            db=db, store=MediaStore(db), files=MediaFiles(config.path(config.media.store_path)),
            rate_limiter=rate_limiter, config=config.media, clock=clock, federation=queries,
            server_name=config.server_name, pool=media_pool,
        ),
        turn=TurnService(config.turn, clock, rate_limiter),
        openid=OpenIdService(OpenIdTokenStore(db), rate_limiter, clock, config.server_name),
        media_pool=media_pool,
        password_pool=password_pool,
        federation_client=federation_client,
        notary_client=notary_client,
        federation_sender=federation_sender,
        federation_inbox=FederationInbox(
            store=federation_queue, to_device=to_device, typing=typing, receipts=receipts, presence=presence,
            device_lists=device_lists, remote=remote_events, clock=clock,
        ),
        keyring=keyring,
        remote_events=remote_events,
        remote_membership=remote_membership,
        server_reads=ServerReads(
            events=event_store, state=state_store, rooms=room_store, accounts=account_store, remote=remote_events,
            clock=clock,
            server_name=config.server_name,
        ),
    )


def create_app(config: Config, *, clock: Clock | None = None, db: Database | None = None) -> web.Application:
    """The client-facing aiohttp application, with its lifecycle hooks."""
    hearth = build_hearth(config, clock=clock, db=db)
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=config.listen.max_request_size)
    app[HEARTH_KEY] = hearth
    connections = ConnectionGuard(ListenerLimits.for_listener(config.listen, behind_proxy=config.listen.x_forwarded))
    app[CONNECTIONS_KEY] = connections

    authenticator = Authenticator(
        hearth.auth, x_forwarded=config.listen.x_forwarded, allow_guests=config.registration.allow_guests
    )
    pages = Pages(public_baseurl=config.public_baseurl, server_name=config.server_name)
    account_pages = AccountPages(
        pages=pages, authenticator=authenticator, sessions=hearth.web_sessions, second_factor=hearth.second_factor,
        devices=hearth.devices, oauth=hearth.oauth, registration=hearth.registration,
        registration_enabled=config.registration.enabled, registration_open=config.registration.open,
        session_lifetime=config.auth.web_session_lifetime,
    )
    route_groups = [
        DiscoveryRoutes(config, hearth.db),
        RegisterRoutes(authenticator, hearth.registration),
        SessionRoutes(
            authenticator, hearth.accounts, hearth.auth, hearth.devices, password_login=config.auth.password_login
        ),
        AccountRoutes(authenticator, hearth.accounts, hearth.uia, hearth.deactivation),
        SecondFactorRoutes(authenticator, hearth.second_factor, hearth.uia),
        DeviceRoutes(authenticator, hearth.devices),
        ProfileRoutes(authenticator, hearth.profiles),
        AccountDataRoutes(authenticator, hearth.account_data),
        FilterRoutes(authenticator, hearth.filters),
        CapabilitiesRoutes(authenticator, config),
        VoipRoutes(authenticator, hearth.turn),
        OpenIdRoutes(authenticator, hearth.openid),
        SharedSecretRoutes(authenticator, hearth.shared_secret),
        RegistrationTokenRoutes(authenticator, hearth.registration),
        UserAdminRoutes(authenticator, hearth.user_admin),
        RoomRoutes(
            authenticator, hearth.room_creator, hearth.membership, hearth.messages, hearth.timeline, hearth.filters,
            hearth.upgrader, hearth.event_store,
        ),
        SyncRoutes(authenticator, hearth.sync, hearth.filters, connections),
        LegacySyncRoutes(authenticator, hearth.legacy_sync, connections),
        EphemeralRoutes(authenticator, hearth.typing, hearth.receipts, hearth.presence),
        DirectoryRoutes(authenticator, hearth.directory),
        PushRoutes(authenticator, hearth.push, hearth.timeline, hearth.event_store),
        RelationRoutes(authenticator, hearth.relations),
        SearchRoutes(authenticator, hearth.search, hearth.user_directory),
        SpaceRoutes(authenticator, hearth.spaces, hearth.reports, hearth.account_data),
        KeyRoutes(authenticator, hearth.keys, hearth.cross_signing, hearth.device_lists, hearth.to_device),
        RoomKeyRoutes(authenticator, hearth.key_backups),
        MediaRoutes(authenticator, hearth.media, config.media, connections),
        MediaAdminRoutes(authenticator, hearth.media, config.server_name),
        OAuthRoutes(authenticator, hearth.oauth),
        StaticRoutes(),
        account_pages,
        OAuthPages(pages=pages, account=account_pages, oauth=hearth.oauth),
        WebClientRoutes(),  # last: it serves "/" and static files
    ]
    for group in route_groups:
        add_routes(app, group.routes())

    app.cleanup_ctx.append(_database_lifecycle(hearth))
    app.cleanup_ctx.append(_housekeeping(hearth))
    return app


HEARTH_KEY = web.AppKey("hearth", Hearth)
#: The guard of the listener serving an application (see :mod:`homeserver.connections`).
CONNECTIONS_KEY = web.AppKey("connections", ConnectionGuard)


def create_federation_app(hearth: Hearth) -> web.Application:
    """The Server-Server API application (served on the TLS federation listener).

    It shares ``hearth`` with the client application, whose lifecycle opens
    and closes the database and starts and stops the federation sender.
    """
    config = hearth.config
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=config.listen.max_request_size)
    app[HEARTH_KEY] = hearth
    app[CONNECTIONS_KEY] = ConnectionGuard(ListenerLimits.for_listener(config.listen, behind_proxy=False))
    authenticator = FederationAuthenticator(hearth.keyring, config.server_name)
    for group in (
        ServerKeyRoutes(hearth.keyring),
        QueryRoutes(authenticator, hearth.profiles, hearth.directory, hearth.spaces),
        UserKeyRoutes(authenticator, hearth.keys, config.server_name),
        TransactionRoutes(authenticator, hearth.federation_inbox),
        MembershipRoutes(authenticator, hearth.remote_membership),
        EventReadRoutes(authenticator, hearth.server_reads),
        FederationMediaRoutes(authenticator, hearth.media, config.server_name),
        FederationOpenIdRoutes(hearth.openid),
    ):
        add_routes(app, group.routes())
    return app


def _database_lifecycle(hearth: Hearth):  # type: ignore[no-untyped-def]
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await hearth.db.open()
        try:
            applied = await migrate(hearth.db)
            logger.info("database_ready", dialect=hearth.db.dialect, migrations_applied=applied)
            for stream in (
                EVENTS_STREAM, ACCOUNT_DATA_STREAM, RECEIPTS_STREAM, PRESENCE_STREAM, TO_DEVICE_STREAM,
                DEVICE_LISTS_STREAM,
            ):
                hearth.notifier.advance(stream, await current_position(hearth.db, stream))
            hearth.notifier.start_tracking(EVENTS_STREAM)
            if not hearth.config.rate_limits.enabled:
                logger.warning("rate_limits_disabled", detail="every rate limit is switched off")
            if hearth.federation_sender is not None:
                await hearth.federation_sender.start()  # resumes deliveries left by the last run
            try:
                yield
            finally:
                if hearth.federation_sender is not None:
                    await hearth.federation_sender.stop()
                await hearth.federation_client.close()
                await hearth.notary_client.close()
        finally:
            await hearth.db.close()
            for pool in (hearth.media_pool, hearth.password_pool):
                pool.shutdown(wait=False, cancel_futures=True)

    return lifecycle


def _housekeeping(hearth: Hearth):  # type: ignore[no-untyped-def]
    async def loop() -> None:
        while True:
            await asyncio.sleep(_HOUSEKEEPING_INTERVAL)
            try:
                await hearth.uia.expire_sessions()
                await hearth.registration_store.delete_old_nonces(
                    hearth.clock.time_ms() - 60 * 60 * 1000
                )
                await hearth.to_device.forget_old_txns()
                await hearth.device_lists.forget_unshared_remote_lists()
                await hearth.media.expire_pending()
                await hearth.media.release_expired_reservations()
                await hearth.oauth.expire()
                await hearth.web_sessions.expire()
                await hearth.openid.expire()
            except Exception:
                logger.exception("housekeeping_failed")

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(loop(), name="housekeeping")
        hearth.typing.start()
        hearth.member_updates.start()
        yield
        await hearth.member_updates.stop()
        await hearth.typing.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return lifecycle
