/** An open room: header, members with presence, timeline, composer, typing, search, threads. */
import { computed, signal } from "@preact/signals";
import {
  ClientEvent, EventType, RoomEvent, RoomMemberEvent, RoomStateEvent, UserEvent,
  type MatrixClient, type MatrixEvent, type Room,
} from "matrix-js-sdk";
import { describeError } from "../matrix/auth";
import { MediaCache } from "../matrix/media";
import { isDirect, USER_ID } from "../matrix/rooms";
import { ComposerViewModel } from "./ComposerViewModel";
import { presenceOf, type Presence } from "./presence";
import type { RoomListViewModel } from "./RoomListViewModel";
import { SearchViewModel } from "./SearchViewModel";
import { CLEARED_HISTORY_TYPE, TimelineViewModel } from "./TimelineViewModel";
import { ViewModel } from "./ViewModel";

export interface Member {
  userId: string;
  name: string;
  membership: string;
  presence: Presence;
  verified: boolean | null;
}

export class ThreadViewModel extends ViewModel {
  readonly timeline: TimelineViewModel;
  readonly composer: ComposerViewModel;

  constructor(client: MatrixClient, room: Room, readonly rootId: string) {
    super();
    const thread = room.getThread(rootId) ?? room.createThread(rootId, room.findEventById(rootId), [], false);
    this.timeline = new TimelineViewModel(client, room, thread.timelineSet, rootId);
    this.composer = new ComposerViewModel(client, room, rootId);
    void client.paginateEventTimeline(thread.liveTimeline, { backwards: true, limit: 50 }).catch(() => undefined);
  }

  override dispose(): void {
    this.timeline.dispose();
    this.composer.dispose();
    super.dispose();
  }
}

export class RoomViewModel extends ViewModel {
  readonly roomId: string;
  readonly name = signal("");
  readonly topic = signal("");
  readonly encrypted = signal(false);
  readonly direct = signal(false);
  readonly membership = signal("join");
  readonly members = signal<Member[]>([]);
  readonly typing = signal<string[]>([]);
  readonly typingText = computed(() => {
    const names = this.typing.value;
    if (names.length === 0) return "";
    if (names.length === 1) return `${names[0]} is typing…`;
    if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
    return `${names.length} people are typing…`;
  });
  readonly error = signal<string | null>(null);
  readonly thread = signal<ThreadViewModel | null>(null);
  readonly search = signal<SearchViewModel | null>(null);
  readonly timeline: TimelineViewModel;
  readonly composer: ComposerViewModel;
  private lastReceipt: string | null = null;

  constructor(private readonly client: MatrixClient, readonly room: Room, private readonly list: RoomListViewModel, readonly media: MediaCache) {
    super();
    this.roomId = room.roomId;
    this.timeline = new TimelineViewModel(client, room, room.getUnfilteredTimelineSet());
    this.composer = new ComposerViewModel(client, room);
    const header = () => this.updateHeader();
    this.listen(room, RoomEvent.Name, header);
    this.listen(room, RoomEvent.MyMembership, (_room: Room, membership: string, previous?: string) => {
      header();
      // Members seen while invited are only the invitation's; after joining, load them all
      // (the crypto shares room keys with exactly this list).
      if (membership === "join" && previous !== "join") void this.loadMembers(true);
    });
    this.listen(room, RoomStateEvent.Events, header);
    this.listen(client, ClientEvent.AccountData, header);
    this.listen(client, RoomMemberEvent.Typing, (_event: MatrixEvent, member: { roomId: string }) => {
      if (member.roomId === this.roomId) this.updateTyping();
    });
    this.listen(client, RoomMemberEvent.Membership, (_event: MatrixEvent, member: { roomId: string; membership?: string }) => {
      header();
      if (member.roomId === this.roomId && member.membership === "join") void this.fetchPresence();
    });
    this.listen(client, UserEvent.Presence, () => this.updateMembers());
    this.listen(client, UserEvent.CurrentlyActive, () => this.updateMembers());
    this.listen(room, RoomEvent.Timeline, () => this.markRead());
    this.updateHeader();
    this.updateTyping();
    void this.loadMembers();
    // Opening the room reads it; so does coming back to a hidden tab that shows it.
    queueMicrotask(() => this.markRead());
    if (typeof document !== "undefined") {
      const onVisible = () => this.markRead();
      document.addEventListener("visibilitychange", onVisible);
      this.track(() => document.removeEventListener("visibilitychange", onVisible));
    }
  }

  private updateHeader(): void {
    this.name.value = this.room.name || "Empty room";
    this.topic.value = String(this.room.currentState.getStateEvents(EventType.RoomTopic, "")?.getContent().topic ?? "");
    this.encrypted.value = this.client.isRoomEncrypted(this.roomId);
    this.direct.value = isDirect(this.client, this.roomId);
    this.membership.value = this.room.getMyMembership();
    this.updateMembers();
  }

  private updateTyping(): void {
    const me = this.client.getUserId();
    this.typing.value = this.room.getMembers().filter((m) => m.typing && m.userId !== me).map((m) => m.name);
  }

  private async loadMembers(reload = false): Promise<void> {
    if (this.room.getMyMembership() !== "join") return;
    try {
      if (reload) await this.room.clearLoadedMembersIfNeeded();
      await this.room.loadMembersIfNeeded();
    } catch {
      // Shown from what sync gave.
    }
    this.updateMembers();
    void this.updateVerification();
    void this.fetchPresence();
  }

  private presence = new Map<string, Presence>();
  private presenceAsked = new Set<string>();

  /**
   * Presence the sync has not told yet (someone already online when the room was first
   * shared), asked for once per member; bounded to the first 50 members.
   */
  private async fetchPresence(): Promise<void> {
    const me = this.client.getUserId();
    const unknown = this.room.getJoinedMembers()
      .filter((m) => m.userId !== me && !this.presenceAsked.has(m.userId) && !this.client.getUser(m.userId)?.lastPresenceTs)
      .slice(0, 50);
    for (const member of unknown) {
      this.presenceAsked.add(member.userId);
      try {
        const status = await this.client.getPresence(member.userId);
        const state = status.presence === "online" ? "online" : status.presence === "unavailable" ? "away" : "offline";
        const lastActive = typeof status.last_active_ago === "number" ? Date.now() - status.last_active_ago : 0;
        this.presence.set(member.userId, state === "offline" && lastActive
          ? presenceOf({ presence: "offline", lastPresenceTs: Date.now(), lastActiveAgo: status.last_active_ago } as never)
          : { state, label: state === "online" ? "Online" : state === "away" ? "Away" : "Offline" });
      } catch {
        // Presence may be off on the server: shown as unknown (offline).
      }
    }
    if (unknown.length) this.updateMembers();
  }

  private verification = new Map<string, boolean>();

  private async updateVerification(): Promise<void> {
    const crypto = this.client.getCrypto();
    if (!crypto) return;
    for (const member of this.room.getJoinedMembers()) {
      try {
        const status = await crypto.getUserVerificationStatus(member.userId);
        this.verification.set(member.userId, status.isCrossSigningVerified());
      } catch {
        // Unknown: shown without a verification mark.
      }
    }
    this.updateMembers();
  }

  private updateMembers(): void {
    const me = this.client.getUserId();
    this.members.value = this.room.getMembers()
      .filter((m) => m.membership === "join" || m.membership === "invite")
      .map((m) => ({
        userId: m.userId,
        name: m.name,
        membership: m.membership ?? "leave",
        // This session is here, whatever the server last told of the user's presence.
        presence: m.userId === me ? { state: "online" as const, label: "Online" } : this.client.getUser(m.userId)?.lastPresenceTs ? presenceOf(this.client.getUser(m.userId)) : this.presence.get(m.userId) ?? presenceOf(this.client.getUser(m.userId)),
        verified: this.verification.get(m.userId) ?? null,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Moves the read receipt and fully-read marker to the newest event while the room is shown. */
  markRead(): void {
    if (this.isDisposed || this.membership.value !== "join") return;
    if (typeof document !== "undefined" && document.visibilityState === "hidden") return;
    const last = this.timeline.lastEvent();
    const id = last?.getId();
    if (!last || !id || id === this.lastReceipt) return;
    this.lastReceipt = id;
    void this.client.setRoomReadMarkers(this.roomId, id, last).catch(() => {
      this.lastReceipt = null;
    });
  }

  async invite(userId: string): Promise<boolean> {
    const id = userId.trim();
    if (!USER_ID.test(id)) {
      this.error.value = "A user ID looks like @name:server.org";
      return false;
    }
    try {
      await this.client.invite(this.roomId, id);
      this.error.value = null;
      return true;
    } catch (error) {
      this.error.value = describeError(error);
      return false;
    }
  }

  async leave(): Promise<void> {
    await this.list.leave(this.roomId);
  }

  /** Hides the history up to now for this user on all their devices (room account data). */
  async clearHistory(): Promise<void> {
    const last = this.timeline.lastEvent();
    try {
      await this.client.setRoomAccountData(this.roomId, CLEARED_HISTORY_TYPE as never, {
        ts: last ? last.getTs() : Date.now(),
        event_id: last?.getId() ?? null,
      } as never);
    } catch (error) {
      this.error.value = describeError(error);
    }
  }

  openThread(rootId: string): void {
    this.thread.value?.dispose();
    this.thread.value = new ThreadViewModel(this.client, this.room, rootId);
  }

  closeThread(): void {
    this.thread.value?.dispose();
    this.thread.value = null;
  }

  openSearch(): SearchViewModel {
    const vm = this.search.value ?? new SearchViewModel(this.client, this.room);
    this.search.value = vm;
    return vm;
  }

  closeSearch(): void {
    this.search.value?.dispose();
    this.search.value = null;
  }

  override dispose(): void {
    this.timeline.dispose();
    this.composer.dispose();
    this.thread.value?.dispose();
    this.search.value?.dispose();
    super.dispose();
  }
}
