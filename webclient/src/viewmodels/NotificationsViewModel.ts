/**
 * Browser notifications for messages the user's push rules say to notify about
 * (direct messages and mentions by default), only while the tab is hidden.
 */
import { signal } from "@preact/signals";
import { EventType, MatrixEventEvent, RoomEvent, type MatrixClient, type MatrixEvent, type Room } from "matrix-js-sdk";
import type { Platform } from "../platform";
import { ViewModel } from "./ViewModel";

const ENABLED_KEY = "hearth.notifications";

export interface Notifier {
  permission(): NotificationPermission | "unsupported";
  request(): Promise<NotificationPermission>;
  show(title: string, body: string, onClick: () => void): void;
  hidden(): boolean;
}

export const browserNotifier: Notifier = {
  permission: () => (typeof Notification === "undefined" ? "unsupported" : Notification.permission),
  request: () => Notification.requestPermission(),
  show: (title, body, onClick) => {
    const notification = new Notification(title, { body });
    notification.onclick = () => {
      window.focus();
      onClick();
      notification.close();
    };
  },
  hidden: () => document.visibilityState === "hidden",
};

export class NotificationsViewModel extends ViewModel {
  readonly enabled = signal(false);
  readonly permission = signal<NotificationPermission | "unsupported">("default");
  onOpenRoom: (roomId: string) => void = () => undefined;

  constructor(private readonly client: MatrixClient, private readonly platform: Platform, private readonly notifier: Notifier = browserNotifier) {
    super();
    this.permission.value = notifier.permission();
    this.enabled.value = platform.storage.getItem(ENABLED_KEY) === "on" && this.permission.value === "granted";
  }

  start(): void {
    this.listen(this.client, RoomEvent.Timeline, (event: MatrixEvent, room: Room | undefined, toStart: boolean, _removed: boolean, data: { liveEvent?: boolean }) => {
      if (!room || toStart || !data?.liveEvent) return;
      // An encrypted event is judged once decrypted (the push rules look at its real type).
      if (event.getWireType() === EventType.RoomMessageEncrypted && (event.isBeingDecrypted() || !event.getClearContent())) {
        event.once(MatrixEventEvent.Decrypted, () => this.consider(event, room));
      } else {
        this.consider(event, room);
      }
    });
  }

  async enable(): Promise<void> {
    if (this.notifier.permission() === "unsupported") return;
    this.permission.value = await this.notifier.request();
    this.enabled.value = this.permission.value === "granted";
    this.platform.storage.setItem(ENABLED_KEY, this.enabled.value ? "on" : "off");
  }

  disable(): void {
    this.enabled.value = false;
    this.platform.storage.setItem(ENABLED_KEY, "off");
  }

  private consider(event: MatrixEvent, room: Room): void {
    if (!this.enabled.value || !this.notifier.hidden()) return;
    if (event.getSender() === this.client.getUserId() || event.getType() !== EventType.RoomMessage) return;
    const actions = this.client.getPushActionsForEvent(event, true);
    if (!actions?.notify) return;
    const sender = room.getMember(event.getSender()!)?.name ?? event.getSender()!;
    const body = String(event.getContent().body ?? "");
    this.notifier.show(room.name === sender ? sender : `${sender} in ${room.name}`, body, () => this.onOpenRoom(room.roomId));
  }
}
