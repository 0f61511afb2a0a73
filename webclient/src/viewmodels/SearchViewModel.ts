/**
 * Searching a room: through the server's /search in unencrypted rooms, and over
 * the decrypted history held in this browser in encrypted rooms (the server
 * cannot read those messages).
 */
import { signal } from "@preact/signals";
import { EventType, type MatrixClient, type MatrixEvent, type Room } from "matrix-js-sdk";
import { describeError } from "../matrix/auth";
import { ViewModel } from "./ViewModel";

export interface SearchResult {
  eventId: string;
  sender: string;
  ts: number;
  body: string;
}

/** Splits text into plain and matching parts, for <mark>. */
export function highlight(text: string, term: string): { text: string; match: boolean }[] {
  const needle = term.trim().toLowerCase();
  if (!needle) return [{ text, match: false }];
  const parts: { text: string; match: boolean }[] = [];
  const lower = text.toLowerCase();
  let at = 0;
  for (let i = lower.indexOf(needle); i >= 0; i = lower.indexOf(needle, at)) {
    if (i > at) parts.push({ text: text.slice(at, i), match: false });
    parts.push({ text: text.slice(i, i + needle.length), match: true });
    at = i + needle.length;
  }
  if (at < text.length) parts.push({ text: text.slice(at), match: false });
  return parts;
}

export function searchLocal(events: readonly MatrixEvent[], term: string, name: (id: string) => string, limit = 50): SearchResult[] {
  const needle = term.trim().toLowerCase();
  if (!needle) return [];
  const results: SearchResult[] = [];
  for (let i = events.length - 1; i >= 0 && results.length < limit; i--) {
    const event = events[i]!;
    if (event.getType() !== EventType.RoomMessage || event.isRedacted() || event.isRelation("m.replace")) continue;
    const body = String(event.getContent().body ?? "");
    if (body.toLowerCase().includes(needle)) results.push({ eventId: event.getId()!, sender: name(event.getSender()!), ts: event.getTs(), body });
  }
  return results;
}

export class SearchViewModel extends ViewModel {
  readonly term = signal("");
  readonly results = signal<SearchResult[] | null>(null);
  readonly busy = signal(false);
  readonly error = signal<string | null>(null);

  constructor(private readonly client: MatrixClient, private readonly room: Room) {
    super();
  }

  get local(): boolean {
    return this.client.isRoomEncrypted(this.room.roomId);
  }

  async search(): Promise<void> {
    const term = this.term.value.trim();
    if (!term) {
      this.results.value = null;
      return;
    }
    this.busy.value = true;
    this.error.value = null;
    const name = (id: string) => this.room.getMember(id)?.name ?? id;
    try {
      if (this.local) {
        this.results.value = searchLocal(this.room.getLiveTimeline().getEvents(), term, name);
      } else {
        const response = await this.client.search({
          body: { search_categories: { room_events: { search_term: term, filter: { rooms: [this.room.roomId] }, order_by: "recent" as never } } },
        });
        const found = response.search_categories.room_events?.results ?? [];
        this.results.value = found.map(({ result }) => ({
          eventId: result.event_id!,
          sender: name(result.sender!),
          ts: result.origin_server_ts!,
          body: String((result.content as { body?: unknown }).body ?? ""),
        }));
      }
    } catch (error) {
      this.error.value = describeError(error);
    } finally {
      this.busy.value = false;
    }
  }
}
