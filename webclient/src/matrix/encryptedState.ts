/**
 * MSC4362 encrypted state. matrix-js-sdk decrypts state events that arrive in a
 * sync's timeline, but not those in its `state` block (a room's name set before
 * the timeline window, as on a reload or a new session). This decrypts those,
 * checks the packed state key ("{type}:{state_key}") matches the decrypted
 * type and state key, and puts them in the room state under their real type.
 */
import { EventTimeline, MatrixEvent, MatrixEventEvent, type MatrixClient, type Room } from "matrix-js-sdk";

/** State the server must read; never taken from an encrypted event. */
const NEVER_ENCRYPTED = new Set([
  "m.room.create", "m.room.member", "m.room.join_rules", "m.room.power_levels",
  "m.room.third_party_invite", "m.room.history_visibility", "m.room.guest_access", "m.room.encryption",
]);

/** Whether a decrypted state event may stand for the packed wire state key it came with. */
export function acceptableDecryptedState(wireStateKey: string | undefined, type: string, stateKey: string | undefined): boolean {
  if (wireStateKey === undefined || stateKey === undefined) return false;
  if (type === "m.room.encrypted" || NEVER_ENCRYPTED.has(type)) return false;
  return wireStateKey === `${type}:${stateKey}`;
}

const seen = new WeakSet<MatrixEvent>();
/** Retries of one event after its key arrived (each a fresh copy); bounded. */
const MAX_RETRIES = 3;

function apply(room: Room, event: MatrixEvent): void {
  if (event.isDecryptionFailure() || event.isEncrypted() === false) return;
  if (!acceptableDecryptedState(event.getWireStateKey(), event.getType(), event.getStateKey())) return;
  const state = room.getLiveTimeline().getState(EventTimeline.FORWARDS);
  if (!state) return;
  const current = state.getStateEvents(event.getType(), event.getStateKey()!);
  // Only the newest event for the packed key is current state.
  if (current && current.getTs() > event.getTs()) return;
  state.setStateEvents([event]);
  room.recalculate();
}

/**
 * Decrypts a fresh copy of the wire event. A copy, because matrix-js-sdk's retry of a
 * failed state event sends the failure placeholder's (missing) state key along, which the
 * crypto then rejects; when the key arrives (the copy's retry fires Decrypted), a new copy
 * is decrypted instead.
 */
async function decryptCopy(client: MatrixClient, room: Room, wire: MatrixEvent, attempt: number): Promise<void> {
  const copy = new MatrixEvent(structuredClone(wire.event));
  await client.decryptEventIfNeeded(copy);
  if (!copy.isDecryptionFailure()) {
    apply(room, copy);
  } else if (attempt < MAX_RETRIES) {
    // The crypto retries one object per event ID when the key comes: the copy or the SDK's own.
    let retried = false;
    const retry = () => {
      if (retried) return;
      retried = true;
      void decryptCopy(client, room, wire, attempt + 1);
    };
    copy.once(MatrixEventEvent.Decrypted, retry);
    wire.once(MatrixEventEvent.Decrypted, retry);
  }
}

export async function decryptRoomState(client: MatrixClient, room: Room): Promise<void> {
  const state = room.getLiveTimeline().getState(EventTimeline.FORWARDS);
  if (!state) return;
  // Undecrypted ones sit under their wire type; failed ones under the failure's placeholder type.
  const candidates: MatrixEvent[] = [];
  for (const byKey of state.events.values()) {
    for (const event of byKey.values()) {
      if (event.getWireType() !== "m.room.encrypted" || event.getWireStateKey() === undefined) continue;
      if (event.isEncrypted() && event.getClearContent() && !event.isDecryptionFailure()) continue;
      candidates.push(event);
    }
  }
  for (const event of candidates) {
    if (seen.has(event)) continue;
    seen.add(event);
    await decryptCopy(client, room, event, 0);
  }
}
