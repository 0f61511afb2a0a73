/** An open room: heading, actions, the "Messages" log, typing status and the composer. */
import { useState } from "preact/hooks";
import { useLocation } from "wouter-preact";
import type { RoomViewModel } from "../viewmodels/RoomViewModel";
import type { SessionViewModel } from "../viewmodels/SessionViewModel";
import { Avatar, Dialog, ErrorText, PresenceDot } from "./common";
import { ComposerView } from "./ComposerView";
import { SearchView } from "./SearchView";
import { TimelineView } from "./TimelineView";

function InviteDialog({ vm, onClose }: { vm: RoomViewModel; onClose: () => void }) {
  const [userId, setUserId] = useState("");
  return (
    <Dialog title="Invite to this room" onClose={onClose}>
      <form onSubmit={async (e) => { e.preventDefault(); if (await vm.invite(userId)) onClose(); }}>
        <label>User ID<input autocapitalize="none" placeholder="@name:server.org" value={userId} onInput={(e) => setUserId(e.currentTarget.value)} /></label>
        <ErrorText error={vm.error.value} />
        <button type="submit" class="primary">Invite</button>
      </form>
    </Dialog>
  );
}

function MembersPanel({ vm, onClose }: { vm: RoomViewModel; onClose: () => void }) {
  return (
    <aside class="panel" aria-label="People">
      <header class="panel-header"><h3>People</h3><button type="button" class="icon" aria-label="Close people" onClick={onClose}>✕</button></header>
      <ul class="members">
        {vm.members.value.map((m) => (
          <li key={m.userId}>
            <Avatar name={m.name} id={m.userId} size={24} />
            <PresenceDot state={m.presence.state} label={m.presence.label} />
            <span class="member-name">{m.name}</span>
            {m.verified === true && <span class="verified" title="Verified">✔ verified</span>}
            {m.verified === false && <span class="hint">not verified</span>}
            {m.membership === "invite" && <span class="hint">invited</span>}
          </li>
        ))}
      </ul>
    </aside>
  );
}

function Invitation({ vm, session }: { vm: RoomViewModel; session: SessionViewModel }) {
  const [, navigate] = useLocation();
  const summary = session.roomList.all.value.find((r) => r.roomId === vm.roomId);
  return (
    <section class="main invitation" aria-label="Invitation">
      <h2>{vm.name.value}</h2>
      <p>{summary?.inviter ? `${summary.inviter} invited you to this conversation.` : "You were invited to this conversation."}</p>
      <div class="row">
        <button type="button" class="primary" onClick={async () => { await session.roomList.accept(vm.roomId); }}>Accept</button>
        <button type="button" onClick={async () => { await session.roomList.decline(vm.roomId); navigate("/"); }}>Decline</button>
      </div>
      <ErrorText error={session.roomList.error.value} />
    </section>
  );
}

export function RoomView({ vm, session }: { vm: RoomViewModel; session: SessionViewModel }) {
  const [, navigate] = useLocation();
  const [inviting, setInviting] = useState(false);
  const [people, setPeople] = useState(false);
  const [menu, setMenu] = useState(false);
  if (vm.membership.value === "invite") return <Invitation vm={vm} session={session} />;
  const dm = vm.direct.value ? vm.members.value.find((m) => m.userId !== session.userId) : undefined;
  const thread = vm.thread.value;
  return (
    <section class="main room" aria-label={vm.name.value}>
      <header class="room-header">
        <button type="button" class="icon back" aria-label="Back to rooms" onClick={() => navigate("/")}>←</button>
        <Avatar name={vm.name.value} id={vm.roomId} />
        <div class="room-title">
          <h2>{vm.name.value}</h2>
          <p class="topic">
            {dm && <><PresenceDot state={dm.presence.state} label={dm.presence.label} /> {dm.presence.label} · </>}
            {vm.encrypted.value ? "End-to-end encrypted" : "Not encrypted"}
            {vm.topic.value && ` · ${vm.topic.value}`}
          </p>
        </div>
        <div class="room-actions">
          <button type="button" onClick={() => vm.openSearch()}>Search messages</button>
          <button type="button" onClick={() => setInviting(true)}>Invite</button>
          <button type="button" aria-expanded={people} onClick={() => setPeople(!people)}>People</button>
          <button type="button" aria-expanded={menu} aria-haspopup="menu" onClick={() => setMenu(!menu)}>Room options</button>
          {menu && (
            <div class="menu" role="menu" aria-label="Room options">
              <button type="button" role="menuitem" onClick={async () => { setMenu(false); await vm.clearHistory(); }}>Clear history for me</button>
              <button type="button" role="menuitem" onClick={async () => { setMenu(false); await vm.leave(); navigate("/"); }}>Leave room</button>
            </div>
          )}
        </div>
      </header>
      <ErrorText error={vm.error.value} />
      {vm.search.value && <SearchView vm={vm.search.value} onClose={() => vm.closeSearch()} />}
      <div class="room-body">
        <div class="room-main">
          <TimelineView vm={vm.timeline} composer={vm.composer} onOpenThread={(id) => vm.openThread(id)} label="Messages" />
          <p class="typing" role="status" aria-live="polite">{vm.typingText.value}</p>
          <ComposerView vm={vm.composer} />
        </div>
        {thread && (
          <aside class="panel thread" aria-label="Thread">
            <header class="panel-header"><h3>Thread</h3><button type="button" class="icon" aria-label="Close thread" onClick={() => vm.closeThread()}>✕</button></header>
            <TimelineView vm={thread.timeline} composer={thread.composer} label="Thread messages" />
            <ComposerView vm={thread.composer} label="Reply in thread" />
          </aside>
        )}
        {people && !thread && <MembersPanel vm={vm} onClose={() => setPeople(false)} />}
      </div>
      {inviting && <InviteDialog vm={vm} onClose={() => setInviting(false)} />}
    </section>
  );
}
