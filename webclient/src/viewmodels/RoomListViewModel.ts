/** The room list: direct chats and groups, newest first, with previews and counts. */
import { computed, signal } from "@preact/signals";
import { ClientEvent, MatrixEventEvent, RoomEvent, RoomStateEvent, type MatrixClient } from "matrix-js-sdk";
import { describeError } from "../matrix/auth";
import { createGroup, isDirect, joinRoom, startDirectChat, USER_ID, type NewRoom } from "../matrix/rooms";
import { filterSummaries, sortSummaries, summarize, type RoomSummary } from "./roomSummary";
import { ViewModel } from "./ViewModel";

export interface PublicRoom {
  roomId: string;
  alias: string | null;
  name: string;
  topic: string;
  members: number;
}

export class RoomListViewModel extends ViewModel {
  readonly all = signal<RoomSummary[]>([]);
  readonly filter = signal("");
  readonly selected = signal<string | null>(null);
  readonly rooms = computed(() => filterSummaries(this.all.value, this.filter.value));
  readonly totalUnread = computed(() => this.all.value.reduce((n, s) => n + (s.invite ? 1 : s.unread), 0));
  readonly busy = signal(false);
  readonly error = signal<string | null>(null);
  private scheduled = false;

  constructor(private readonly client: MatrixClient) {
    super();
  }

  start(): void {
    const refresh = () => this.schedule();
    for (const event of [ClientEvent.Room, ClientEvent.DeleteRoom, ClientEvent.AccountData]) this.listen(this.client, event, refresh);
    for (const event of [RoomEvent.Timeline, RoomEvent.Name, RoomEvent.MyMembership, RoomEvent.UnreadNotifications, RoomEvent.Receipt, RoomEvent.Redaction, RoomEvent.LocalEchoUpdated]) {
      this.listen(this.client, event, refresh);
    }
    this.listen(this.client, RoomStateEvent.Events, refresh);
    this.listen(this.client, MatrixEventEvent.Decrypted, refresh);
    this.refresh();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      if (!this.isDisposed) this.refresh();
    });
  }

  refresh(): void {
    const rooms = this.client.getRooms().filter((room) => ["join", "invite"].includes(room.getMyMembership()));
    this.all.value = sortSummaries(rooms.map((room) => summarize(room, isDirect(this.client, room.roomId), this.client.isRoomEncrypted(room.roomId))));
  }

  private async run<T>(action: () => Promise<T>): Promise<T | null> {
    this.busy.value = true;
    this.error.value = null;
    try {
      return await action();
    } catch (error) {
      this.error.value = describeError(error);
      return null;
    } finally {
      this.busy.value = false;
    }
  }

  startChat(userId: string): Promise<string | null> {
    const id = userId.trim();
    if (!USER_ID.test(id)) {
      this.error.value = "A user ID looks like @name:server.org";
      return Promise.resolve(null);
    }
    return this.run(() => startDirectChat(this.client, id));
  }

  createRoom(room: NewRoom): Promise<string | null> {
    const bad = room.invite.find((id) => !USER_ID.test(id));
    if (bad) {
      this.error.value = `"${bad}" is not a user ID`;
      return Promise.resolve(null);
    }
    return this.run(() => createGroup(this.client, room));
  }

  join(aliasOrId: string): Promise<string | null> {
    return this.run(() => joinRoom(this.client, aliasOrId));
  }

  accept(roomId: string): Promise<string | null> {
    return this.run(() => joinRoom(this.client, roomId));
  }

  decline(roomId: string): Promise<void | null> {
    return this.run(async () => {
      await this.client.leave(roomId);
    });
  }

  leave(roomId: string): Promise<void | null> {
    return this.run(async () => {
      await this.client.leave(roomId);
      if (this.selected.value === roomId) this.selected.value = null;
    });
  }

  async directory(term: string): Promise<PublicRoom[]> {
    const result = await this.run(() => this.client.publicRooms({ limit: 50, filter: term.trim() ? { generic_search_term: term.trim() } : undefined }));
    return (result?.chunk ?? []).map((room) => ({
      roomId: room.room_id,
      alias: room.canonical_alias ?? null,
      name: room.name ?? room.canonical_alias ?? room.room_id,
      topic: room.topic ?? "",
      members: room.num_joined_members,
    }));
  }

  clearError(): void {
    this.error.value = null;
  }
}
