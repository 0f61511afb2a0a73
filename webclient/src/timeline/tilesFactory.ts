/**
 * The one place that turns a room's events into timeline tiles: which events
 * are shown, as which kind of tile, where day dividers go and which messages
 * are grouped under one sender heading.
 */
import { EventStatus, EventType, type MatrixEvent } from "matrix-js-sdk";
import { format, isSameDay, isToday, isYesterday } from "date-fns";
import { sanitizeHtml, stripBodyReplyFallback, stripReplyFallback } from "./html";
import { announcementText } from "./tiles/announcement";
import type { EncryptedFileInfo, MediaInfo, MessageTile, Reaction, ReplyPreview, ThreadSummary, Tile } from "./tiles/types";

/** What the factory may ask about the room beyond the events themselves. */
export interface TileContext {
  myUserId: string;
  memberName(userId: string): string;
  memberAvatar(userId: string): string | null;
  reactions(eventId: string): Reaction[];
  receipts(eventId: string): string[];
  findEvent(eventId: string): MatrixEvent | undefined;
  thread(event: MatrixEvent): ThreadSummary | null;
  /** Events at or before this time are hidden ("clear history for me"). */
  clearedBefore: number;
  /** The event after which the unread marker is drawn, if any unread follow. */
  fullyReadEventId: string | null;
  /** Whether there may be older events to fetch. */
  canPaginate: boolean;
  paginating: boolean;
}

const GROUP_WINDOW_MS = 5 * 60 * 1000;
const HIDDEN_TYPES = new Set<string>([EventType.Reaction, EventType.RoomRedaction, "m.receipt", "m.typing"]);
const ANNOUNCED_TYPES = new Set<string>([
  EventType.RoomCreate, EventType.RoomMember, EventType.RoomName, EventType.RoomTopic, EventType.RoomEncryption, EventType.RoomAvatar,
]);

export function dayLabel(ts: number, now = new Date()): string {
  const date = new Date(ts);
  if (isToday(date)) return "Today";
  if (isYesterday(date)) return "Yesterday";
  return format(date, date.getFullYear() === now.getFullYear() ? "EEEE, d MMMM" : "EEEE, d MMMM yyyy");
}

function mediaInfo(content: Record<string, any>): MediaInfo {
  const info = (content.info ?? {}) as Record<string, any>;
  const file = (content.file ?? null) as EncryptedFileInfo | null;
  const thumbFile = (info.thumbnail_file ?? null) as EncryptedFileInfo | null;
  const thumbUrl = typeof info.thumbnail_url === "string" ? info.thumbnail_url : null;
  return {
    mxc: file ? file.url : typeof content.url === "string" ? content.url : null,
    file,
    mimetype: typeof info.mimetype === "string" ? info.mimetype : "application/octet-stream",
    size: typeof info.size === "number" ? info.size : null,
    width: typeof info.w === "number" ? info.w : null,
    height: typeof info.h === "number" ? info.h : null,
    thumbnail: thumbFile || thumbUrl ? { mxc: thumbFile ? thumbFile.url : thumbUrl, file: thumbFile } : null,
  };
}

function replyPreview(event: MatrixEvent, ctx: TileContext): ReplyPreview | null {
  const replyId = event.replyEventId;
  if (!replyId) return null;
  const original = ctx.findEvent(replyId);
  if (!original) return { eventId: replyId, sender: "", body: "Original message not loaded" };
  const body = original.isRedacted() ? "Message deleted" : original.isDecryptionFailure() ? "Unable to decrypt" : stripBodyReplyFallback(String(original.getContent().body ?? ""));
  return { eventId: replyId, sender: ctx.memberName(original.getSender() ?? ""), body };
}

/** The message tile for one event, or null when the event is not shown. */
export function messageTile(event: MatrixEvent, ctx: TileContext, continuation: boolean): MessageTile | null {
  const sender = event.getSender() ?? "";
  const eventId = event.getId() ?? event.getTxnId() ?? "";
  const base = {
    key: event.getTxnId() ?? eventId,
    eventId,
    sender,
    senderName: ctx.memberName(sender),
    avatarMxc: ctx.memberAvatar(sender),
    ts: event.getTs(),
    mine: sender === ctx.myUserId,
    continuation,
    reactions: ctx.reactions(eventId),
    receipts: ctx.receipts(eventId),
    replyTo: null as ReplyPreview | null,
    thread: ctx.thread(event),
    edited: Boolean(event.replacingEventId()),
    pending: event.status !== null && event.status !== EventStatus.SENT,
    body: "",
  };
  if (event.isRedacted()) return { ...base, kind: "redacted", body: "" };
  if (event.isDecryptionFailure() || event.getType() === EventType.RoomMessageEncrypted) {
    return { ...base, kind: "encrypted", failed: event.isDecryptionFailure() };
  }
  if (event.getType() !== EventType.RoomMessage && event.getType() !== EventType.Sticker) return null;
  const content = event.getContent() as Record<string, any>;
  const body = typeof content.body === "string" ? stripBodyReplyFallback(content.body) : "";
  const withBody = { ...base, body, replyTo: replyPreview(event, ctx) };
  const msgtype = event.getType() === EventType.Sticker ? "m.image" : content.msgtype;
  switch (msgtype) {
    case "m.image": return { ...withBody, kind: "image", media: mediaInfo(content) };
    case "m.video": return { ...withBody, kind: "video", media: mediaInfo(content) };
    case "m.audio": return { ...withBody, kind: "audio", media: mediaInfo(content) };
    case "m.file": return { ...withBody, kind: "file", media: mediaInfo(content) };
    case "m.notice":
    case "m.emote":
    case "m.text":
    default: {
      const html = content.format === "org.matrix.custom.html" && typeof content.formatted_body === "string"
        ? sanitizeHtml(stripReplyFallback(content.formatted_body)) : null;
      const kind = msgtype === "m.notice" || msgtype === "m.emote" ? msgtype : "m.text";
      return { ...withBody, kind: "text", msgtype: kind, html };
    }
  }
}

function isShown(event: MatrixEvent): boolean {
  if (HIDDEN_TYPES.has(event.getType())) return false;
  if (event.isRelation("m.replace")) return false;
  return true;
}

/** Turns events (oldest first) into tiles. */
export function createTiles(events: readonly MatrixEvent[], ctx: TileContext, now = new Date()): Tile[] {
  const tiles: Tile[] = [];
  if (ctx.canPaginate || ctx.paginating) tiles.push({ kind: "gap", key: "gap", loading: ctx.paginating, atStart: false });
  else tiles.push({ kind: "gap", key: "gap", loading: false, atStart: true });
  let previous: MessageTile | null = null;
  let previousTs: number | null = null;
  let markerPending = false;
  for (const event of events) {
    if (event.getTs() <= ctx.clearedBefore) continue;
    if (!isShown(event)) {
      if (ctx.fullyReadEventId && event.getId() === ctx.fullyReadEventId) markerPending = true;
      continue;
    }
    const ts = event.getTs();
    let newDay = false;
    if (previousTs === null || !isSameDay(previousTs, ts)) {
      tiles.push({ kind: "date", key: `date-${ts}`, ts, label: dayLabel(ts, now) });
      newDay = true;
    }
    if (markerPending) {
      tiles.push({ kind: "unreadMarker", key: "unread-marker" });
      markerPending = false;
    }
    previousTs = ts;
    if (ANNOUNCED_TYPES.has(event.getType()) && event.isState()) {
      const text = announcementText(event, (id) => ctx.memberName(id));
      if (text) tiles.push({ kind: "announcement", key: event.getId() ?? `${ts}`, eventId: event.getId() ?? "", ts, text });
      previous = null;
    } else {
      const continuation = Boolean(previous && !newDay && previous.sender === event.getSender() && ts - previous.ts < GROUP_WINDOW_MS);
      const tile = messageTile(event, ctx, continuation);
      if (tile) {
        tiles.push(tile);
        previous = tile;
      }
    }
    if (ctx.fullyReadEventId && event.getId() === ctx.fullyReadEventId) markerPending = true;
  }
  return tiles;
}
