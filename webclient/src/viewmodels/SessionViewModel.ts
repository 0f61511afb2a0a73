/**
 * A signed-in session: starts syncing, sets up or verifies encryption, and owns
 * the room list, the open room and the settings.
 */
import { computed, signal } from "@preact/signals";
import { ClientEvent, PendingEventOrdering, SyncState, type MatrixClient } from "matrix-js-sdk";
import { CryptoEvent, type VerificationRequest } from "matrix-js-sdk/lib/crypto-api";
import { cryptoPrefix, type OpenClient } from "../matrix/client";
import { decryptRoomState } from "../matrix/encryptedState";
import { MediaCache } from "../matrix/media";
import type { StoredSession } from "../matrix/sessionStore";
import type { Platform } from "../platform";
import { NotificationsViewModel } from "./NotificationsViewModel";
import { RoomListViewModel } from "./RoomListViewModel";
import { RoomViewModel } from "./RoomViewModel";
import { SecurityViewModel } from "./SecurityViewModel";
import { SettingsViewModel } from "./SettingsViewModel";
import { VerificationViewModel } from "./VerificationViewModel";
import { ViewModel } from "./ViewModel";

export interface SessionStart {
  password: string | null;
  newAccount: boolean;
}

export class SessionViewModel extends ViewModel {
  readonly client: MatrixClient;
  readonly userId: string;
  readonly deviceId: string;
  readonly syncError = signal<string | null>(null);
  readonly roomList: RoomListViewModel;
  readonly security: SecurityViewModel;
  readonly notifications: NotificationsViewModel;
  readonly media: MediaCache;
  readonly room = signal<RoomViewModel | null>(null);
  readonly settings = signal<SettingsViewModel | null>(null);
  /** A verification another session (or person) asked for. */
  readonly incomingVerification = signal<VerificationViewModel | null>(null);
  readonly title = computed(() => {
    const unread = this.roomList.totalUnread.value;
    return unread > 0 ? `(${unread}) Hearth` : "Hearth";
  });

  constructor(
    private readonly platform: Platform,
    open: OpenClient,
    readonly session: StoredSession,
    start: SessionStart,
    private readonly onSignedOut: (notice?: string) => Promise<void>,
  ) {
    super();
    this.client = open.client;
    this.userId = session.userId;
    this.deviceId = session.deviceId;
    this.roomList = new RoomListViewModel(this.client);
    this.security = new SecurityViewModel(this.client, open.keys, start.password, start.newAccount);
    this.notifications = new NotificationsViewModel(this.client, platform);
    this.media = new MediaCache(this.client);
  }

  /** Starts syncing and resolves after the first sync. */
  async start(): Promise<void> {
    const prepared = new Promise<void>((resolve, reject) => {
      const onSync = (state: SyncState, _prev: SyncState | null, data?: { error?: Error }) => {
        if (state === SyncState.Prepared || state === SyncState.Syncing) {
          this.syncError.value = null;
          resolve();
        } else if (state === SyncState.Error) {
          this.syncError.value = "Connection to the server lost; retrying…";
          if (data?.error && (data.error as { errcode?: string }).errcode === "M_UNKNOWN_TOKEN") reject(data.error);
        }
      };
      this.listen(this.client, ClientEvent.Sync, onSync);
    });
    this.listen(this.client, ClientEvent.Sync, (state: SyncState) => {
      if (state === SyncState.Prepared || state === SyncState.Syncing) {
        for (const room of this.client.getRooms()) void decryptRoomState(this.client, room);
      }
    });
    this.listen(this.client, CryptoEvent.VerificationRequestReceived, (request: VerificationRequest) => {
      if (this.incomingVerification.value || this.security.step.value.kind === "verifying") return;
      this.incomingVerification.value = new VerificationViewModel(request, async () => {
        await this.security.refreshVerified();
      });
    });
    await this.client.startClient({
      initialSyncLimit: 20,
      lazyLoadMembers: true,
      threadSupport: true,
      // Messages being sent are kept apart from the timeline until the server has them.
      pendingEventOrdering: PendingEventOrdering.Detached,
      resolveInvitesToProfiles: true,
    });
    await prepared;
    this.roomList.start();
    this.notifications.start();
    void this.security.start();
  }

  openRoom(roomId: string | null): RoomViewModel | null {
    const current = this.room.value;
    if (current?.roomId === roomId) return current;
    current?.dispose();
    const room = roomId ? this.client.getRoom(roomId) : null;
    const vm = room ? new RoomViewModel(this.client, room, this.roomList, this.media) : null;
    this.room.value = vm;
    this.roomList.selected.value = vm ? roomId : null;
    return vm;
  }

  closeVerification(): void {
    this.incomingVerification.value?.dispose();
    this.incomingVerification.value = null;
  }

  openSettings(): SettingsViewModel {
    const vm = this.settings.value ?? new SettingsViewModel(this.client, this.session, this.platform, () => this.signOut());
    this.settings.value = vm;
    return vm;
  }

  closeSettings(): void {
    this.settings.value?.dispose();
    this.settings.value = null;
  }

  async signOut(): Promise<void> {
    try {
      await this.client.logout(true);
    } catch {
      // Signing out locally matters most; the server forgets the token either way.
    }
    await this.onSignedOut();
  }

  /** Stops syncing and deletes this session's local data (sync cache and crypto store). */
  async closeLocally(): Promise<void> {
    this.dispose();
    this.client.stopClient();
    try {
      await this.client.clearStores({ cryptoDatabasePrefix: cryptoPrefix(this.session) });
    } catch {
      // A store that cannot be cleared is deleted with the next sign-in's.
    }
  }

  override dispose(): void {
    this.room.value?.dispose();
    this.settings.value?.dispose();
    this.roomList.dispose();
    this.security.dispose();
    this.notifications.dispose();
    this.incomingVerification.value?.dispose();
    this.media.dispose();
    super.dispose();
  }
}
