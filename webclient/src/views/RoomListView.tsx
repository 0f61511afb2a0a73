/** The "Rooms" navigation: filter, new chat / room / join, and the list itself. */
import { useState } from "preact/hooks";
import { Link } from "wouter-preact";
import type { PublicRoom, RoomListViewModel } from "../viewmodels/RoomListViewModel";
import type { SessionViewModel } from "../viewmodels/SessionViewModel";
import { Avatar, Dialog, ErrorText } from "./common";

type Open = "chat" | "room" | "join" | null;

function NewChatDialog({ vm, onClose, onOpen }: { vm: RoomListViewModel; onClose: () => void; onOpen: (id: string) => void }) {
  const [userId, setUserId] = useState("");
  return (
    <Dialog title="New chat" onClose={onClose}>
      <form onSubmit={async (e) => {
        e.preventDefault();
        const roomId = await vm.startChat(userId);
        if (roomId) { onClose(); onOpen(roomId); }
      }}>
        <label>User ID
          <input autocapitalize="none" placeholder="@name:server.org" value={userId} onInput={(e) => setUserId(e.currentTarget.value)} />
        </label>
        <p class="hint">Direct chats are end-to-end encrypted.</p>
        <ErrorText error={vm.error.value} />
        <button type="submit" class="primary" disabled={vm.busy.value}>Start chat</button>
      </form>
    </Dialog>
  );
}

function NewRoomDialog({ vm, onClose, onOpen }: { vm: RoomListViewModel; onClose: () => void; onOpen: (id: string) => void }) {
  const [name, setName] = useState("");
  const [topic, setTopic] = useState("");
  const [invite, setInvite] = useState("");
  const [encrypted, setEncrypted] = useState(true);
  return (
    <Dialog title="New room" onClose={onClose}>
      <form onSubmit={async (e) => {
        e.preventDefault();
        const invitees = invite.split(/[\s,]+/).filter(Boolean);
        const roomId = await vm.createRoom({ name: name.trim(), topic: topic.trim(), invite: invitees, encrypted });
        if (roomId) { onClose(); onOpen(roomId); }
      }}>
        <label>Room name<input value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
        <label>Topic<input value={topic} onInput={(e) => setTopic(e.currentTarget.value)} /></label>
        <label>Invite people <span class="hint">(user IDs, separated by spaces)</span>
          <input aria-label="Invite people" autocapitalize="none" value={invite} onInput={(e) => setInvite(e.currentTarget.value)} />
        </label>
        <label class="check">
          <input type="checkbox" checked={encrypted} onChange={(e) => setEncrypted(e.currentTarget.checked)} />Encrypted
        </label>
        {encrypted && <p class="hint">Messages, the room name and the topic are end-to-end encrypted.</p>}
        <ErrorText error={vm.error.value} />
        <button type="submit" class="primary" disabled={vm.busy.value}>Create room</button>
      </form>
    </Dialog>
  );
}

function JoinDialog({ vm, onClose, onOpen }: { vm: RoomListViewModel; onClose: () => void; onOpen: (id: string) => void }) {
  const [address, setAddress] = useState("");
  const [term, setTerm] = useState("");
  const [rooms, setRooms] = useState<PublicRoom[] | null>(null);
  const join = async (target: string) => {
    const roomId = await vm.join(target);
    if (roomId) { onClose(); onOpen(roomId); }
  };
  return (
    <Dialog title="Join a room" onClose={onClose}>
      <form onSubmit={(e) => { e.preventDefault(); void join(address); }}>
        <label>Room address<input autocapitalize="none" placeholder="#room:server.org" value={address} onInput={(e) => setAddress(e.currentTarget.value)} /></label>
        <button type="submit" class="primary" disabled={vm.busy.value}>Join</button>
      </form>
      <form role="search" aria-label="Room directory" onSubmit={async (e) => { e.preventDefault(); setRooms(await vm.directory(term)); }}>
        <label>Search the room directory<input value={term} onInput={(e) => setTerm(e.currentTarget.value)} /></label>
        <button type="submit">Search directory</button>
      </form>
      <ErrorText error={vm.error.value} />
      {rooms && (
        <ul class="directory" aria-label="Public rooms">
          {rooms.length === 0 && <li>No public rooms found.</li>}
          {rooms.map((room) => (
            <li key={room.roomId}>
              <div><strong>{room.name}</strong> <span class="hint">{room.members} members</span><br />{room.topic}</div>
              <button type="button" aria-label={`Join ${room.name}`} onClick={() => void join(room.alias ?? room.roomId)}>Join</button>
            </li>
          ))}
        </ul>
      )}
    </Dialog>
  );
}

export function RoomListView({ vm, session, onOpen }: { vm: RoomListViewModel; session: SessionViewModel; onOpen: (id: string) => void }) {
  const [open, setOpen] = useState<Open>(null);
  const close = () => { vm.clearError(); setOpen(null); };
  const me = session.client.getUser(session.userId);
  return (
    <aside class="sidebar">
      <header class="sidebar-header">
        <Link href="/settings" class="me" aria-label="Settings">
          <Avatar name={me?.displayName || session.userId} id={session.userId} mxc={me?.avatarUrl} size={28} />
          <span class="me-name">{me?.displayName || session.userId}</span>
        </Link>
      </header>
      <div class="sidebar-actions">
        <button type="button" onClick={() => setOpen("chat")}>New chat</button>
        <button type="button" onClick={() => setOpen("room")}>New room</button>
        <button type="button" onClick={() => setOpen("join")}>Join room</button>
      </div>
      <label class="filter">
        <input type="search" aria-label="Filter rooms" placeholder="Filter rooms" value={vm.filter.value} onInput={(e) => (vm.filter.value = e.currentTarget.value)} />
      </label>
      <nav aria-label="Rooms">
        <ul class="room-list">
          {vm.rooms.value.map((room) => {
            const descId = `room-desc-${room.roomId}`;
            return (
              <li key={room.roomId} class={room.roomId === vm.selected.value ? "selected" : ""}>
                <Link href={`/room/${encodeURIComponent(room.roomId)}`} aria-label={room.name} aria-describedby={descId}
                  aria-current={room.roomId === vm.selected.value ? "page" : undefined}>
                  <Avatar name={room.name} id={room.roomId} />
                  <span class="room-text">
                    <span class="room-name">{room.encrypted && <span aria-hidden="true" class="lock">🔒</span>}{room.name}</span>
                    <span class="room-preview" id={descId}>
                      {room.preview}
                      {room.unread > 0 && <span class="visually-hidden">, {room.unread} unread</span>}
                      {room.mentions > 0 && <span class="visually-hidden">, {room.mentions} mentions</span>}
                    </span>
                  </span>
                  {room.mentions > 0 && <span class="badge mention" aria-hidden="true">@{room.mentions}</span>}
                  {room.unread > 0 && <span class="badge" aria-hidden="true">{room.unread}</span>}
                  {room.invite && <span class="badge invite" aria-hidden="true">new</span>}
                </Link>
              </li>
            );
          })}
          {vm.rooms.value.length === 0 && <li class="hint">{vm.filter.value ? "No room matches" : "No conversations yet"}</li>}
        </ul>
      </nav>
      {open === "chat" && <NewChatDialog vm={vm} onClose={close} onOpen={onOpen} />}
      {open === "room" && <NewRoomDialog vm={vm} onClose={close} onOpen={onOpen} />}
      {open === "join" && <JoinDialog vm={vm} onClose={close} onOpen={onOpen} />}
    </aside>
  );
}
