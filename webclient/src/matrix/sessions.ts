/** The account's sessions (devices): list them and sign out others, with password UIA. */
import type { MatrixClient } from "matrix-js-sdk";
import { passwordAuth, readUia } from "./auth";
import type { StoredSession } from "./sessionStore";

/** Runs a request that needs user-interactive auth, answering with the password. */
export async function withPassword<T>(userId: string, password: string, request: (auth?: Record<string, unknown>) => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    const uia = readUia(error);
    if (!uia) throw error;
    return await request({ ...passwordAuth(userId, password), session: uia.session });
  }
}

export async function signOutOtherSessions(client: MatrixClient, session: StoredSession, password: string): Promise<number> {
  const { devices } = await client.getDevices();
  const others = devices.map((d) => d.device_id).filter((id) => id !== session.deviceId);
  if (others.length === 0) return 0;
  await withPassword(session.userId, password, (auth) => client.deleteMultipleDevices(others, auth as never));
  return others.length;
}
