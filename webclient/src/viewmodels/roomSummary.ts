/** What the room list shows of one room; pure functions over matrix-js-sdk's Room. */
import { EventType, NotificationCountType, type MatrixEvent, type Room } from "matrix-js-sdk";

export interface RoomSummary {
  roomId: string;
  name: string;
  preview: string;
  lastActivity: number;
  unread: number;
  mentions: number;
  invite: boolean;
  inviter: string | null;
  direct: boolean;
  encrypted: boolean;
}

const PREVIEW_TYPES = new Set<string>([EventType.RoomMessage, EventType.RoomMessageEncrypted, EventType.Sticker]);

export function previewText(event: MatrixEvent, senderName: string): string {
  if (event.isRedacted()) return `${senderName}: message deleted`;
  if (event.isDecryptionFailure()) return `${senderName}: unable to decrypt message`;
  if (event.getType() === EventType.RoomMessageEncrypted) return `${senderName}: encrypted message`;
  const content = event.getContent();
  const body = typeof content.body === "string" ? content.body : "";
  switch (content.msgtype) {
    case "m.image": return `${senderName} sent an image`;
    case "m.video": return `${senderName} sent a video`;
    case "m.audio": return `${senderName} sent an audio clip`;
    case "m.file": return `${senderName} sent a file`;
    case "m.emote": return `* ${senderName} ${body}`;
    default: return `${senderName}: ${body}`;
  }
}

export function lastMessage(room: Room): MatrixEvent | null {
  const events = room.getLiveTimeline().getEvents();
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i]!;
    if (!PREVIEW_TYPES.has(event.getType())) continue;
    if (event.isRelation("m.replace")) continue;
    return event;
  }
  return null;
}

export function summarize(room: Room, direct: boolean, encrypted: boolean): RoomSummary {
  const membership = room.getMyMembership();
  const invite = membership === "invite";
  const last = lastMessage(room);
  const me = room.client.getUserId();
  const inviteEvent = invite && me ? room.currentState.getMember(me)?.events.member : undefined;
  const inviter = inviteEvent ? (room.getMember(inviteEvent.getSender()!)?.name ?? inviteEvent.getSender()!) : null;
  let preview = "";
  if (invite) preview = inviter ? `Invitation from ${inviter}` : "Invitation";
  else if (last) preview = previewText(last, room.getMember(last.getSender()!)?.name ?? last.getSender()!);
  return {
    roomId: room.roomId,
    name: room.name || "Empty room",
    preview,
    lastActivity: room.getLastActiveTimestamp() || 0,
    unread: room.getUnreadNotificationCount(NotificationCountType.Total) ?? 0,
    mentions: room.getUnreadNotificationCount(NotificationCountType.Highlight) ?? 0,
    invite,
    inviter,
    direct,
    encrypted,
  };
}

/** Invitations first, then by latest activity. */
export function sortSummaries(list: RoomSummary[]): RoomSummary[] {
  return [...list].sort((a, b) => Number(b.invite) - Number(a.invite) || b.lastActivity - a.lastActivity || a.name.localeCompare(b.name));
}

export function filterSummaries(list: RoomSummary[], filter: string): RoomSummary[] {
  const needle = filter.trim().toLocaleLowerCase();
  return needle ? list.filter((s) => s.name.toLocaleLowerCase().includes(needle)) : list;
}
