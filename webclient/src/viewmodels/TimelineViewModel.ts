/**
 * A room's (or a thread's) timeline as tiles: follows new, decrypted, edited,
 * redacted and reacted-to events and read receipts; pages back through history.
 */
import { computed, signal } from "@preact/signals";
import {
  Direction, EventTimeline, EventType, MatrixEventEvent, RelationType, RoomEvent, RoomMemberEvent, ThreadEvent,
  type EventTimelineSet, type MatrixClient, type MatrixEvent, type Room,
} from "matrix-js-sdk";
import { createTiles, type TileContext } from "../timeline/tilesFactory";
import type { Reaction, ThreadSummary, Tile } from "../timeline/tiles/types";
import { ViewModel } from "./ViewModel";

export const CLEARED_HISTORY_TYPE = "org.hearth.cleared_history";

const NOT_A_RECEIPT_TARGET = new Set<string>([EventType.Reaction, EventType.RoomRedaction]);

export class TimelineViewModel extends ViewModel {
  private readonly version = signal(0);
  readonly paginating = signal(false);
  readonly canPaginate = signal(true);
  /** The fully-read marker when the room was opened: the unread line sits after it. */
  readonly fullyReadEventId = signal<string | null>(null);
  readonly tiles = computed<Tile[]>(() => {
    this.version.value;
    return createTiles(this.events(), this.context(), new Date());
  });
  private scheduled = false;
  /** Unread messages when the room was opened (before this view marked them read). */
  private initialUnread = 0;

  constructor(
    private readonly client: MatrixClient,
    readonly room: Room,
    private readonly timelineSet: EventTimelineSet,
    readonly threadRootId: string | null = null,
  ) {
    super();
    const changed = () => this.changed();
    this.listen(room, RoomEvent.Timeline, changed);
    this.listen(room, RoomEvent.TimelineReset, changed);
    this.listen(room, RoomEvent.Redaction, changed);
    this.listen(room, RoomEvent.LocalEchoUpdated, changed);
    this.listen(room, RoomEvent.Receipt, changed);
    this.listen(room, RoomEvent.AccountData, changed);
    this.listen(room, ThreadEvent.Update, changed);
    this.listen(room, ThreadEvent.New, changed);
    this.listen(this.client, MatrixEventEvent.Decrypted, (event: MatrixEvent) => {
      if (event.getRoomId() === room.roomId) changed();
    });
    this.listen(this.client, MatrixEventEvent.Replaced, changed);
    this.listen(this.client, RoomMemberEvent.Name, changed);
    this.canPaginate.value = this.hasOlder();
    this.initialUnread = threadRootId ? 0 : room.getUnreadNotificationCount() ?? 0;
    if (!threadRootId) this.fullyReadEventId.value = room.getAccountData(EventType.FullyRead)?.getContent().event_id ?? null;
  }

  /**
   * The live timeline and the older ones matrix-js-sdk linked before it (a limited sync
   * starts a new live timeline; paging back joins it to the earlier one), oldest first.
   */
  private timelines(): EventTimeline[] {
    const chain = [this.timelineSet.getLiveTimeline()];
    for (let i = 0; i < 100; i++) {
      const older = chain[0]!.getNeighbouringTimeline(Direction.Backward);
      if (!older || chain.includes(older)) break;
      chain.unshift(older);
    }
    return chain;
  }

  /** Whether the server has older events than those loaded (a backward pagination token). */
  private hasOlder(): boolean {
    const oldest = this.timelines()[0]!;
    if (oldest.getEvents().some((e) => e.getType() === EventType.RoomCreate)) return false;
    return oldest.getPaginationToken(Direction.Backward) !== null;
  }

  private changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      if (this.isDisposed) return;
      if (!this.paginating.value) this.canPaginate.value = this.hasOlder();
      this.version.value++;
    });
  }

  events(): MatrixEvent[] {
    const events = this.timelines().flatMap((timeline) => timeline.getEvents());
    if (this.threadRootId) {
      const root = this.room.findEventById(this.threadRootId);
      return root && !events.includes(root) ? [root, ...events] : [...events];
    }
    return [...events, ...this.room.getPendingEvents().filter((e) => !e.threadRootId)];
  }

  /** The newest event that is a real message or state change (for receipts). */
  lastEvent(): MatrixEvent | null {
    const events = this.timelineSet.getLiveTimeline().getEvents();
    for (let i = events.length - 1; i >= 0; i--) {
      if (events[i]!.getId()?.startsWith("$")) return events[i]!;
    }
    return null;
  }

  clearedBefore(): number {
    const content = this.room.getAccountData(CLEARED_HISTORY_TYPE)?.getContent();
    return typeof content?.ts === "number" ? content.ts : 0;
  }

  private receiptsByEvent(events: MatrixEvent[]): Map<string, string[]> {
    const position = new Map(events.map((e, i) => [e.getId(), i]));
    const byEvent = new Map<string, string[]>();
    const me = this.client.getUserId();
    for (const member of this.room.getJoinedMembers()) {
      if (member.userId === me) continue;
      const eventId = this.room.getEventReadUpTo(member.userId, true);
      let index = eventId ? position.get(eventId) : undefined;
      if (index === undefined) continue;
      while (index > 0 && (NOT_A_RECEIPT_TARGET.has(events[index]!.getType()) || events[index]!.isRelation(RelationType.Replace))) index--;
      const target = events[index]!.getId()!;
      byEvent.set(target, [...(byEvent.get(target) ?? []), member.name]);
    }
    return byEvent;
  }

  private reactions(eventId: string): Reaction[] {
    const relations = this.room.getUnfilteredTimelineSet().relations.getChildEventsForEvent(eventId, RelationType.Annotation, EventType.Reaction);
    const me = this.client.getUserId();
    return (relations?.getSortedAnnotationsByKey() ?? []).map(([key, events]) => {
      const list = [...events].filter((e) => !e.isRedacted());
      return {
        key,
        count: list.length,
        mine: list.find((e) => e.getSender() === me)?.getId() ?? null,
        senders: list.map((e) => this.room.getMember(e.getSender()!)?.name ?? e.getSender()!),
      };
    }).filter((r) => r.count > 0);
  }

  private thread(event: MatrixEvent): ThreadSummary | null {
    if (this.threadRootId || !event.isThreadRoot) return null;
    const thread = this.room.getThread(event.getId()!);
    if (!thread || thread.length === 0) return null;
    const latest = thread.replyToEvent;
    return { count: thread.length, latest: latest ? String(latest.getContent().body ?? "") : "" };
  }

  context(): TileContext {
    const events = this.events();
    const receipts = this.threadRootId ? new Map<string, string[]>() : this.receiptsByEvent(events);
    return {
      myUserId: this.client.getUserId() ?? "",
      memberName: (id) => this.room.getMember(id)?.name ?? id,
      memberAvatar: (id) => this.room.getMember(id)?.getMxcAvatarUrl() ?? null,
      reactions: (id) => this.reactions(id),
      receipts: (id) => receipts.get(id) ?? [],
      findEvent: (id) => this.room.findEventById(id),
      thread: (event) => this.thread(event),
      clearedBefore: this.threadRootId ? 0 : this.clearedBefore(),
      fullyReadEventId: this.fullyReadEventId.value,
      canPaginate: this.canPaginate.value,
      paginating: this.paginating.value,
    };
  }

  /** Fetches older events; resolves false at the start of the room. */
  async loadOlder(limit = 30): Promise<boolean> {
    if (this.paginating.value || !this.canPaginate.value) return false;
    this.paginating.value = true;
    try {
      const more = await this.client.paginateEventTimeline(this.timelines()[0]!, { backwards: true, limit });
      this.canPaginate.value = more && this.hasOlder();
      return this.canPaginate.value;
    } catch {
      return false;
    } finally {
      this.paginating.value = false;
      this.changed();
    }
  }

  /** Pages back until the event is loaded (bounded); whether it is. */
  async loadUntil(eventId: string, maxPages = 10): Promise<boolean> {
    for (let page = 0; page < maxPages; page++) {
      if (this.events().some((e) => e.getId() === eventId)) return true;
      if (!(await this.loadOlder(50))) break;
    }
    return this.events().some((e) => e.getId() === eventId);
  }

  /** Whether there are unread messages above what is loaded (the marker is not loaded yet). */
  unreadAboveLoaded(): boolean {
    const marker = this.fullyReadEventId.value;
    if (!marker || this.threadRootId || !this.canPaginate.value) return false;
    if (this.events().some((e) => e.getId() === marker)) return false;
    return this.initialUnread > 0;
  }

  /** Loads history up to the fully-read marker; the first unread event then, if any. */
  async loadFirstUnread(): Promise<string | null> {
    const marker = this.fullyReadEventId.value;
    if (marker) await this.loadUntil(marker);
    return this.firstUnreadEventId();
  }

  /** The first unread message's event ID, if the fully-read marker is behind. */
  firstUnreadEventId(): string | null {
    const marker = this.fullyReadEventId.value;
    if (!marker) return null;
    const tiles = this.tiles.value;
    const index = tiles.findIndex((t) => t.kind === "unreadMarker");
    if (index < 0) return null;
    for (const tile of tiles.slice(index + 1)) if ("eventId" in tile) return tile.eventId;
    return null;
  }
}
