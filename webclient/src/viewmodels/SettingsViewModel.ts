/** Settings: profile, password, sessions, notifications and theme. */
import { signal } from "@preact/signals";
import type { MatrixClient } from "matrix-js-sdk";
import { describeError, passwordAuth } from "../matrix/auth";
import { withPassword } from "../matrix/sessions";
import type { StoredSession } from "../matrix/sessionStore";
import type { Platform } from "../platform";
import { ViewModel } from "./ViewModel";

export type Theme = "light" | "dark" | "system";
const THEME_KEY = "hearth.theme";

export function loadTheme(storage: Storage): Theme {
  const value = storage.getItem(THEME_KEY);
  return value === "light" || value === "dark" ? value : "system";
}

export function applyTheme(theme: Theme): void {
  if (typeof document === "undefined") return;
  if (theme === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

export interface SessionInfo {
  deviceId: string;
  name: string;
  lastSeen: number | null;
  current: boolean;
  verified: boolean | null;
}

export class SettingsViewModel extends ViewModel {
  readonly displayName = signal("");
  readonly avatarMxc = signal<string | null>(null);
  readonly sessions = signal<SessionInfo[]>([]);
  readonly theme = signal<Theme>("system");
  readonly status = signal<string | null>(null);
  readonly error = signal<string | null>(null);
  readonly busy = signal(false);

  constructor(
    private readonly client: MatrixClient,
    private readonly session: StoredSession,
    private readonly platform: Platform,
    readonly signOut: () => Promise<void>,
  ) {
    super();
    this.theme.value = loadTheme(platform.storage);
    const user = client.getUser(session.userId);
    this.displayName.value = user?.displayName ?? "";
    this.avatarMxc.value = user?.avatarUrl ?? null;
    void this.loadProfile();
  }

  private async run(action: () => Promise<void>, done: string): Promise<boolean> {
    this.busy.value = true;
    this.error.value = null;
    this.status.value = null;
    try {
      await action();
      this.status.value = done;
      return true;
    } catch (error) {
      this.error.value = describeError(error);
      return false;
    } finally {
      this.busy.value = false;
    }
  }

  async loadProfile(): Promise<void> {
    try {
      const profile = await this.client.getProfileInfo(this.session.userId);
      this.displayName.value = profile.displayname ?? "";
      this.avatarMxc.value = profile.avatar_url ?? null;
    } catch {
      // A new account may have no profile yet.
    }
  }

  async loadSessions(): Promise<void> {
    try {
      const { devices } = await this.client.getDevices();
      const crypto = this.client.getCrypto();
      const list: SessionInfo[] = [];
      for (const device of devices) {
        let verified: boolean | null = null;
        try {
          verified = (await crypto?.getDeviceVerificationStatus(this.session.userId, device.device_id))?.crossSigningVerified ?? null;
        } catch {
          verified = null;
        }
        list.push({
          deviceId: device.device_id,
          name: device.display_name ?? device.device_id,
          lastSeen: device.last_seen_ts ?? null,
          current: device.device_id === this.session.deviceId,
          verified,
        });
      }
      this.sessions.value = list.sort((a, b) => Number(b.current) - Number(a.current) || (b.lastSeen ?? 0) - (a.lastSeen ?? 0));
    } catch (error) {
      this.error.value = describeError(error);
    }
  }

  saveDisplayName(name: string): Promise<boolean> {
    return this.run(async () => {
      await this.client.setDisplayName(name.trim());
      this.displayName.value = name.trim();
    }, "Display name saved");
  }

  setAvatar(file: File): Promise<boolean> {
    return this.run(async () => {
      if (!file.type.startsWith("image/")) throw new Error("An avatar must be an image");
      const { content_uri } = await this.client.uploadContent(file, { name: file.name, type: file.type });
      await this.client.setAvatarUrl(content_uri);
      this.avatarMxc.value = content_uri;
    }, "Avatar saved");
  }

  changePassword(current: string, next: string, confirm: string): Promise<boolean> {
    if (next !== confirm) {
      this.error.value = "The new passwords do not match";
      return Promise.resolve(false);
    }
    if (!next) {
      this.error.value = "Choose a new password";
      return Promise.resolve(false);
    }
    return this.run(async () => {
      await withPassword(this.session.userId, current, (auth) =>
        this.client.setPassword((auth ?? passwordAuth(this.session.userId, current)) as never, next, false));
    }, "Password changed");
  }

  signOutSessions(deviceIds: string[], password: string): Promise<boolean> {
    const others = deviceIds.filter((id) => id !== this.session.deviceId);
    return this.run(async () => {
      if (others.length === 0) return;
      await withPassword(this.session.userId, password, (auth) => this.client.deleteMultipleDevices(others, auth as never));
      await this.loadSessions();
    }, others.length === 1 ? "Session signed out" : "Sessions signed out");
  }

  signOutOthers(password: string): Promise<boolean> {
    return this.signOutSessions(this.sessions.value.filter((s) => !s.current).map((s) => s.deviceId), password);
  }

  setTheme(theme: Theme): void {
    this.theme.value = theme;
    if (theme === "system") this.platform.storage.removeItem(THEME_KEY);
    else this.platform.storage.setItem(THEME_KEY, theme);
    applyTheme(theme);
  }
}
