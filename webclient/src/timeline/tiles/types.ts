/** The tiles a timeline is made of: one kind per kind of entry (see tilesFactory). */

export interface Reaction {
  key: string;
  count: number;
  mine: string | null; // the event ID of my own reaction, to take it back
  senders: string[];
}

export interface ReplyPreview {
  eventId: string;
  sender: string;
  body: string;
}

export interface ThreadSummary {
  count: number;
  latest: string;
}

export interface MediaInfo {
  mxc: string | null;
  /** Present in encrypted rooms: the spec's EncryptedFile (key, iv, hashes). */
  file: EncryptedFileInfo | null;
  mimetype: string;
  size: number | null;
  width: number | null;
  height: number | null;
  thumbnail: { mxc: string | null; file: EncryptedFileInfo | null } | null;
}

export interface EncryptedFileInfo {
  url: string;
  key: { k: string; alg: string; kty: string; key_ops: string[]; ext: boolean };
  iv: string;
  hashes: Record<string, string>;
  v: string;
}

interface EventTileBase {
  key: string;
  eventId: string;
  sender: string;
  senderName: string;
  avatarMxc: string | null;
  ts: number;
  mine: boolean;
  /** Follows a message of the same sender closely: no name or avatar again. */
  continuation: boolean;
  reactions: Reaction[];
  receipts: string[];
  replyTo: ReplyPreview | null;
  thread: ThreadSummary | null;
  edited: boolean;
  pending: boolean;
  /** The message's body, for search, copy and edits. */
  body: string;
}

export interface TextTile extends EventTileBase {
  kind: "text";
  msgtype: "m.text" | "m.notice" | "m.emote";
  /** Sanitised HTML when the message had formatting. */
  html: string | null;
}
export interface ImageTile extends EventTileBase { kind: "image"; media: MediaInfo }
export interface VideoTile extends EventTileBase { kind: "video"; media: MediaInfo }
export interface AudioTile extends EventTileBase { kind: "audio"; media: MediaInfo }
export interface FileTile extends EventTileBase { kind: "file"; media: MediaInfo }
export interface EncryptedTile extends EventTileBase { kind: "encrypted"; failed: boolean }
export interface RedactedTile extends EventTileBase { kind: "redacted" }

export interface AnnouncementTile {
  kind: "announcement";
  key: string;
  eventId: string;
  ts: number;
  text: string;
}
export interface DateTile { kind: "date"; key: string; ts: number; label: string }
export interface GapTile { kind: "gap"; key: string; loading: boolean; atStart: boolean }
export interface UnreadMarkerTile { kind: "unreadMarker"; key: string }

export type MessageTile = TextTile | ImageTile | VideoTile | AudioTile | FileTile | EncryptedTile | RedactedTile;
export type Tile = MessageTile | AnnouncementTile | DateTile | GapTile | UnreadMarkerTile;

export function isMessageTile(tile: Tile): tile is MessageTile {
  return "sender" in tile;
}
