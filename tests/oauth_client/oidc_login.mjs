// matrix-js-sdk's OIDC login against Hearth, as a web client would do it.
//
// Usage: node oidc_login.mjs <homeserver URL> <redirect URI>
// Prints one JSON line {"authorizationUrl"}; reads one JSON line {"code", "state"} (the
// callback a browser reached after signing in); completes the code grant; then signs
// in a MatrixClient with the token, creates a room, sends a message, syncs until the
// message arrives, and prints one JSON line with what it saw.

import * as readline from "node:readline";

import {
    ClientEvent,
    completeAuthorizationCodeGrant,
    createClient,
    discoverAndValidateOIDCIssuerWellKnown,
    generateOidcAuthorizationUrl,
    registerOidcClient,
} from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";

const [homeserverUrl, redirectUri] = process.argv.slice(2);
logger.disableAll();

// The OIDC helpers (and oidc-client-ts) keep their state in the browser's web storage.
class MemoryStorage {
    #items = new Map();
    get length() { return this.#items.size; }
    key(i) { return [...this.#items.keys()][i] ?? null; }
    getItem(key) { return this.#items.has(key) ? this.#items.get(key) : null; }
    setItem(key, value) { this.#items.set(key, String(value)); }
    removeItem(key) { this.#items.delete(key); }
    clear() { this.#items.clear(); }
}
globalThis.sessionStorage = new MemoryStorage();
globalThis.localStorage = new MemoryStorage();
globalThis.window = { sessionStorage, localStorage, location: { origin: new URL(redirectUri).origin } };

const lines = readline.createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once("line", resolve));
const say = (value) => process.stdout.write(JSON.stringify(value) + "\n");

const metadataResponse = await fetch(new URL("/_matrix/client/v1/auth_metadata", homeserverUrl));
const { issuer } = await metadataResponse.json();
const config = await discoverAndValidateOIDCIssuerWellKnown(issuer);
const clientUri = new URL("/", redirectUri).href;
const clientId = await registerOidcClient(config, {
    clientName: "js-sdk test client",
    clientUri,
    redirectUris: [redirectUri],
    applicationType: "web",
    contacts: [],
    tosUri: new URL("/tos", clientUri).href,
    policyUri: new URL("/policy", clientUri).href,
});
const nonce = crypto.randomUUID();
const authorizationUrl = await generateOidcAuthorizationUrl({
    metadata: config, redirectUri, clientId, homeserverUrl, nonce,
});
say({ authorizationUrl, clientId });

const { code, state } = JSON.parse(await nextLine());
const { tokenResponse, idTokenClaims, oidcClientSettings } = await completeAuthorizationCodeGrant(code, state);

const client = createClient({ baseUrl: homeserverUrl, accessToken: tokenResponse.access_token });
const whoami = await client.whoami();
client.credentials.userId = whoami.user_id;
client.deviceId = whoami.device_id;
const { room_id: roomId } = await client.createRoom({ name: "Signed in with OAuth" });
const { event_id: eventId } = await client.sendTextMessage(roomId, "hello from matrix-js-sdk over OAuth");

const seen = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the message did not arrive by sync")), 30_000);
    const check = () => {
        const room = client.getRoom(roomId);
        const event = room?.getLiveTimeline().getEvents().find((e) => e.getId() === eventId);
        if (event) {
            clearTimeout(timer);
            resolve(event.getContent().body);
        }
    };
    client.on(ClientEvent.Sync, check);
});
await client.startClient({ initialSyncLimit: 10 });
const body = await seen;
client.stopClient();

say({
    userId: whoami.user_id,
    deviceId: whoami.device_id,
    scope: tokenResponse.scope,
    hasRefreshToken: Boolean(tokenResponse.refresh_token),
    idTokenSubject: idTokenClaims.sub,
    issuer: oidcClientSettings.issuer,
    clientId: oidcClientSettings.clientId,
    syncedMessage: body,
});
process.exit(0);
