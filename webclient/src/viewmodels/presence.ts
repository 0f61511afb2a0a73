/** Presence of a user as the room shows it: online, away, or offline with last seen. */
import { formatDistanceToNowStrict } from "date-fns";
import type { User } from "matrix-js-sdk";

export type PresenceState = "online" | "away" | "offline";

export interface Presence {
  state: PresenceState;
  label: string;
}

export function presenceOf(user: User | null | undefined, now = Date.now()): Presence {
  if (!user) return { state: "offline", label: "Offline" };
  const state: PresenceState = user.presence === "online" ? "online" : user.presence === "unavailable" ? "away" : "offline";
  if (state === "online") return { state, label: "Online" };
  if (state === "away") return { state, label: "Away" };
  const lastActive = user.lastPresenceTs && user.lastActiveAgo !== undefined ? user.lastPresenceTs - user.lastActiveAgo : 0;
  if (lastActive > 0) return { state, label: `Offline, last seen ${formatDistanceToNowStrict(lastActive, { addSuffix: true })}` };
  void now;
  return { state, label: "Offline" };
}
