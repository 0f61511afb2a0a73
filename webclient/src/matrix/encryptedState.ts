/**
 * MSC4362 encrypted state. matrix-js-sdk decrypts state events that arrive in a
 * sync's timeline, but not those in its `state` block (a room's name set before
 * the timeline window, as on a reload or a new session). This decrypts those,
 * checks the packed state key ("{type}:{state_key}") matches the decrypted
 * type and state key, and puts them in the room state under their real type.
 */
import { EventTimeline, MatrixEventEvent, type MatrixClient, type MatrixEvent, type Room } from "matrix-js-sdk";

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

export async function decryptRoomState(client: MatrixClient, room: Room): Promise<void> {
  const state = room.getLiveTimeline().getState(EventTimeline.FORWARDS);
  if (!state) return;
  for (const event of state.getStateEvents("m.room.encrypted")) {
    if (seen.has(event)) continue;
    seen.add(event);
    event.once(MatrixEventEvent.Decrypted, () => apply(room, event));
    await client.decryptEventIfNeeded(event);
    apply(room, event);
  }
}
