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
  // The crypto store lives in IndexedDB, so a reload keeps this device's keys. One store per
  // device: a store left by an earlier session of this browser is deleted, never reused.
  const prefix = cryptoPrefix(session);
  await deleteOtherCryptoStores(prefix);
  await client.initRustCrypto({ useIndexedDB: true, cryptoDatabasePrefix: prefix });
  return { client, keys };
}

export function cryptoPrefix(session: StoredSession): string {
  return `hearth-crypto:${session.userId}:${session.deviceId}`;
}

async function deleteOtherCryptoStores(keep: string): Promise<void> {
  if (typeof indexedDB === "undefined" || !indexedDB.databases) return;
  const databases = await indexedDB.databases();
  await Promise.all(databases
    .map((db) => db.name ?? "")
    .filter((name) => name.startsWith("hearth-crypto:") && !name.startsWith(`${keep}::`))
    .map((name) => new Promise<void>((resolve) => {
      const request = indexedDB.deleteDatabase(name);
      request.onsuccess = request.onerror = request.onblocked = () => resolve();
    })));
}

/** An unauthenticated client, for signing in and registering. */
export function anonymousClient(baseUrl: string): MatrixClient {
  return createClient({ baseUrl });
}
