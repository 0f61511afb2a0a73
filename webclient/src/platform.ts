/** What the app needs from its surroundings, passed in so view models are testable. */
import type { MatrixClient } from "matrix-js-sdk";
import type { OpenClient } from "./matrix/client";
import type { StoredSession } from "./matrix/sessionStore";

export interface Platform {
  storage: Storage;
  origin: string;
  discover(input: string): Promise<string>;
  anonymousClient(baseUrl: string): MatrixClient;
  authedClient(session: StoredSession): MatrixClient;
  openClient(session: StoredSession): Promise<OpenClient>;
}
