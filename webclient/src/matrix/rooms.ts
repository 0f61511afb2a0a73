/** Creating, joining and leaving rooms through matrix-js-sdk. */
import { ClientEvent, EventType, Preset, RoomEvent, RoomStateEvent, Visibility, type MatrixClient, type Room } from "matrix-js-sdk";

export const MEGOLM = "m.megolm.v1.aes-sha2";
/** MSC4362's flag in m.room.encryption (matrix-js-sdk reads the io.element prefix). */
export const ENCRYPT_STATE_FLAG = "io.element.msc4362.encrypt_state_events";

export function encryptionState(): { type: string; state_key: string; content: Record<string, unknown> } {
  return { type: EventType.RoomEncryption, state_key: "", content: { algorithm: MEGOLM, [ENCRYPT_STATE_FLAG]: true } };
}

/** Resolves once `check()` holds, re-checking as the client learns more (bounded by `timeoutMs`). */
export function waitFor(client: MatrixClient, check: () => boolean | Promise<boolean>, timeoutMs = 20000): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    const events = [ClientEvent.Room, RoomStateEvent.Events, RoomEvent.Timeline, RoomEvent.MyMembership, ClientEvent.Sync] as const;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const event of events) client.off(event as never, test as never);
      if (error) reject(error);
      else resolve();
    };
    const test = async () => {
      try {
        if (!done && (await check())) finish();
      } catch (error) {
        finish(error as Error);
      }
    };
    const timer = setTimeout(() => finish(new Error("The server took too long to answer")), timeoutMs);
    for (const event of events) client.on(event as never, test as never);
    void test();
  });
}

async function roomReady(client: MatrixClient, roomId: string, encrypted: boolean): Promise<Room> {
  await waitFor(client, async () => {
    const room = client.getRoom(roomId);
    if (!room || room.getMyMembership() !== "join") return false;
    return !encrypted || Boolean(await client.getCrypto()?.isStateEncryptionEnabledInRoom(roomId));
  });
  return client.getRoom(roomId)!;
}

/** The existing direct chat with `userId`, if any (m.direct account data). */
export function findDirectChat(client: MatrixClient, userId: string): Room | null {
  const direct = (client.getAccountData(EventType.Direct)?.getContent() ?? {}) as Record<string, string[]>;
  for (const roomId of direct[userId] ?? []) {
    const room = client.getRoom(roomId);
    if (room && ["join", "invite"].includes(room.getMyMembership())) return room;
  }
  return null;
}

export async function markDirect(client: MatrixClient, userId: string, roomId: string): Promise<void> {
  const direct = { ...((client.getAccountData(EventType.Direct)?.getContent() ?? {}) as Record<string, string[]>) };
  const rooms = new Set(direct[userId] ?? []);
  rooms.add(roomId);
  direct[userId] = [...rooms];
  await client.setAccountData(EventType.Direct, direct as never);
}

export function isDirect(client: MatrixClient, roomId: string): boolean {
  const direct = (client.getAccountData(EventType.Direct)?.getContent() ?? {}) as Record<string, string[]>;
  return Object.values(direct).some((rooms) => rooms.includes(roomId));
}

/**
 * Splits invitees into those createRoom takes and those invited afterwards: a
 * server may refuse to federate invites from createRoom (Hearth does), while
 * /invite reaches any server.
 */
export function splitInvitees(client: MatrixClient, invite: string[]): { local: string[]; remote: string[] } {
  const domain = client.getDomain();
  const local = invite.filter((id) => id.slice(id.indexOf(":") + 1) === domain);
  return { local, remote: invite.filter((id) => !local.includes(id)) };
}

async function inviteAll(client: MatrixClient, roomId: string, users: string[]): Promise<void> {
  for (const user of users) await client.invite(roomId, user);
}

export const USER_ID = /^@[^:\s]+:[A-Za-z0-9.\-[\]:]+$/;

/** A direct chat with `userId`, encrypted from the first message. */
export async function startDirectChat(client: MatrixClient, userId: string): Promise<string> {
  const existing = findDirectChat(client, userId);
  if (existing) return existing.roomId;
  const { local, remote } = splitInvitees(client, [userId]);
  const { room_id } = await client.createRoom({
    preset: Preset.TrustedPrivateChat,
    visibility: Visibility.Private,
    is_direct: true,
    invite: local,
    initial_state: [encryptionState()],
  });
  await markDirect(client, userId, room_id);
  await roomReady(client, room_id, true);
  await inviteAll(client, room_id, remote);
  return room_id;
}

export interface NewRoom {
  name: string;
  topic: string;
  invite: string[];
  encrypted: boolean;
}

/**
 * A group. An encrypted one is created without name or topic, which are then
 * sent as encrypted state (MSC4362) so the server never sees them.
 */
export async function createGroup(client: MatrixClient, room: NewRoom): Promise<string> {
  const { local, remote } = splitInvitees(client, room.invite);
  if (!room.encrypted) {
    const { room_id } = await client.createRoom({
      preset: Preset.PrivateChat,
      visibility: Visibility.Private,
      name: room.name || undefined,
      topic: room.topic || undefined,
      invite: local,
    });
    await roomReady(client, room_id, false);
    await inviteAll(client, room_id, remote);
    return room_id;
  }
  const { room_id } = await client.createRoom({
    preset: Preset.PrivateChat,
    visibility: Visibility.Private,
    invite: local,
    initial_state: [encryptionState()],
  });
  await roomReady(client, room_id, true);
  // Invited before the name is sent, so the invitees' devices get the key that encrypts it.
  await inviteAll(client, room_id, remote);
  if (room.name) await client.sendStateEvent(room_id, EventType.RoomName, { name: room.name });
  if (room.topic) await client.sendStateEvent(room_id, EventType.RoomTopic, { topic: room.topic } as never);
  return room_id;
}

export async function joinRoom(client: MatrixClient, aliasOrId: string): Promise<string> {
  const target = aliasOrId.trim();
  const invited = client.getRoom(target);
  const me = client.getUserId();
  const invite = invited && me ? invited.currentState.getMember(me)?.events.member : undefined;
  const room = await client.joinRoom(target);
  // An accepted invitation to a direct chat joins the m.direct list.
  if (invite?.getContent().is_direct && invite.getSender()) await markDirect(client, invite.getSender()!, room.roomId);
  return room.roomId;
}
