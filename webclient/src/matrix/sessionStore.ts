/** The signed-in session kept in the browser so a reload stays signed in. */

export interface StoredSession {
  homeserverUrl: string;
  userId: string;
  deviceId: string;
  accessToken: string;
}

const KEY = "hearth.session";

export class SessionStore {
  constructor(private readonly storage: Storage) {}

  load(): StoredSession | null {
    const raw = this.storage.getItem(KEY);
    if (!raw) return null;
    try {
      const value = JSON.parse(raw) as Partial<StoredSession>;
      if (value.homeserverUrl && value.userId && value.deviceId && value.accessToken) {
        return value as StoredSession;
      }
    } catch {
      // A damaged entry is treated as signed out.
    }
    this.clear();
    return null;
  }

  save(session: StoredSession): void {
    this.storage.setItem(KEY, JSON.stringify(session));
  }

  clear(): void {
    this.storage.removeItem(KEY);
  }
}
