/**
 * The message composer: text with Markdown, replies, edits, attachments (with
 * upload progress, encrypted in encrypted rooms) and typing notifications.
 */
import { signal } from "@preact/signals";
import { EventType, MsgType, RelationType, type MatrixClient, type Room } from "matrix-js-sdk";
import { encryptAttachment } from "../matrix/attachments";
import { describeError } from "../matrix/auth";
import { renderMarkdown } from "../matrix/markdown";
import type { MessageTile } from "../timeline/tiles/types";
import { ViewModel } from "./ViewModel";

export interface Upload {
  name: string;
  loaded: number;
  total: number;
}

const TYPING_TIMEOUT_MS = 5000;

export function msgtypeFor(mimetype: string): MsgType {
  if (mimetype.startsWith("image/")) return MsgType.Image;
  if (mimetype.startsWith("video/")) return MsgType.Video;
  if (mimetype.startsWith("audio/")) return MsgType.Audio;
  return MsgType.File;
}

export class ComposerViewModel extends ViewModel {
  readonly text = signal("");
  readonly replyTo = signal<MessageTile | null>(null);
  readonly editing = signal<MessageTile | null>(null);
  readonly upload = signal<Upload | null>(null);
  readonly error = signal<string | null>(null);
  private typingSince = 0;

  constructor(
    private readonly client: MatrixClient,
    private readonly room: Room,
    private readonly threadRootId: string | null = null,
  ) {
    super();
    this.track(() => {
      if (this.typingSince) void this.client.sendTyping(this.room.roomId, false, 0).catch(() => undefined);
    });
  }

  setText(text: string): void {
    this.text.value = text;
    const now = Date.now();
    if (text && now - this.typingSince > TYPING_TIMEOUT_MS - 1000) {
      this.typingSince = now;
      void this.client.sendTyping(this.room.roomId, true, TYPING_TIMEOUT_MS).catch(() => undefined);
    } else if (!text && this.typingSince) {
      this.typingSince = 0;
      void this.client.sendTyping(this.room.roomId, false, 0).catch(() => undefined);
    }
  }

  startReply(tile: MessageTile): void {
    this.editing.value = null;
    this.replyTo.value = tile;
  }

  startEdit(tile: MessageTile): void {
    this.replyTo.value = null;
    this.editing.value = tile;
    this.text.value = tile.body;
  }

  cancel(): void {
    if (this.editing.value) this.text.value = "";
    this.replyTo.value = null;
    this.editing.value = null;
  }

  /** Sends what is in the composer. */
  async send(): Promise<void> {
    const text = this.text.value.trim();
    if (!text) return;
    const message = renderMarkdown(text);
    const editing = this.editing.value;
    const replyTo = this.replyTo.value;
    this.text.value = "";
    this.editing.value = null;
    this.replyTo.value = null;
    this.error.value = null;
    if (this.typingSince) {
      this.typingSince = 0;
      void this.client.sendTyping(this.room.roomId, false, 0).catch(() => undefined);
    }
    try {
      if (editing) {
        const newContent = { msgtype: MsgType.Text, ...message };
        await this.client.sendEvent(this.room.roomId, this.threadRootId, EventType.RoomMessage, {
          ...newContent,
          body: `* ${message.body}`,
          ...(message.formatted_body ? { formatted_body: `* ${message.formatted_body}` } : {}),
          "m.new_content": newContent,
          "m.relates_to": { rel_type: RelationType.Replace, event_id: editing.eventId },
        } as never);
        return;
      }
      const content: Record<string, unknown> = { msgtype: MsgType.Text, ...message };
      if (replyTo) content["m.relates_to"] = { "m.in_reply_to": { event_id: replyTo.eventId } };
      await this.client.sendMessage(this.room.roomId, this.threadRootId, content as never);
    } catch (error) {
      this.error.value = `Not sent: ${describeError(error)}`;
    }
  }

  async react(eventId: string, key: string, mine: string | null): Promise<void> {
    try {
      if (mine) await this.client.redactEvent(this.room.roomId, mine);
      else {
        await this.client.sendEvent(this.room.roomId, EventType.Reaction, {
          "m.relates_to": { rel_type: RelationType.Annotation, event_id: eventId, key },
        });
      }
    } catch (error) {
      this.error.value = describeError(error);
    }
  }

  async remove(eventId: string): Promise<void> {
    try {
      await this.client.redactEvent(this.room.roomId, eventId);
    } catch (error) {
      this.error.value = describeError(error);
    }
  }

  /** Uploads a file (encrypted first in an encrypted room) and sends it as a message. */
  async attach(file: File): Promise<void> {
    if (this.upload.value) return;
    const mimetype = file.type || "application/octet-stream";
    const msgtype = msgtypeFor(mimetype);
    this.upload.value = { name: file.name, loaded: 0, total: file.size };
    this.error.value = null;
    try {
      const info: Record<string, unknown> = { mimetype, size: file.size };
      if (msgtype === MsgType.Image && typeof createImageBitmap === "function") {
        try {
          const bitmap = await createImageBitmap(file);
          info.w = bitmap.width;
          info.h = bitmap.height;
          bitmap.close();
        } catch {
          // Not an image the browser can read: sent without dimensions.
        }
      }
      const encrypted = this.client.isRoomEncrypted(this.room.roomId);
      const progressHandler = ({ loaded, total }: { loaded: number; total: number }) => {
        this.upload.value = { name: file.name, loaded, total };
      };
      const content: Record<string, unknown> = { msgtype, body: file.name, filename: file.name, info };
      if (encrypted) {
        const { data, info: fileInfo } = await encryptAttachment(await file.arrayBuffer());
        const { content_uri } = await this.client.uploadContent(new Blob([data], { type: "application/octet-stream" }), {
          name: "encrypted", type: "application/octet-stream", includeFilename: false, progressHandler,
        });
        content.file = { ...fileInfo, url: content_uri };
      } else {
        const { content_uri } = await this.client.uploadContent(file, { name: file.name, type: mimetype, progressHandler });
        content.url = content_uri;
      }
      await this.client.sendMessage(this.room.roomId, this.threadRootId, content as never);
    } catch (error) {
      this.error.value = `Upload failed: ${describeError(error)}`;
    } finally {
      this.upload.value = null;
    }
  }
}
