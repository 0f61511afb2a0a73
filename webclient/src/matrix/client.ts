/** Creates the MatrixClient for a signed-in session, with Rust crypto kept in IndexedDB. */
import { createClient, type MatrixClient } from "matrix-js-sdk";
import type { StoredSession } from "./sessionStore";
import { SecretStorageKeys } from "./secretStorageKeys";

export const DEVICE_NAME = "Hearth web";

export interface OpenClient {
  client: MatrixClient;
  keys: SecretStorageKeys;
}

export async function openClient(session: StoredSession): Promise<OpenClient> {
  const keys = new SecretStorageKeys();
  const client = createClient({
    baseUrl: session.homeserverUrl,
    userId: session.userId,
    deviceId: session.deviceId,
    accessToken: session.accessToken,
    timelineSupport: true,
    // MSC4362: new encrypted rooms also encrypt their name, topic and avatar.
    enableEncryptedStateEvents: true,
    cryptoCallbacks: keys.callbacks(),
  });
  // The crypto store lives in IndexedDB, so a reload keeps this device's keys.
  await client.initRustCrypto({ useIndexedDB: true, cryptoDatabasePrefix: `hearth:${session.userId}` });
  return { client, keys };
}

/** An unauthenticated client, for signing in and registering. */
export function anonymousClient(baseUrl: string): MatrixClient {
  return createClient({ baseUrl });
}
