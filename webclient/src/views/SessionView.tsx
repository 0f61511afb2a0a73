/** The signed-in layout: room list beside the open room (one at a time on a phone). */
import { useEffect } from "preact/hooks";
import { Route, Router, Switch, useLocation, useParams } from "wouter-preact";
import { useHashLocation } from "wouter-preact/use-hash-location";
import type { SessionViewModel } from "../viewmodels/SessionViewModel";
import { MediaContext } from "./common";
import { RoomListView } from "./RoomListView";
import { RoomView } from "./RoomView";
import { SecurityView } from "./SecurityView";
import { SettingsView } from "./SettingsView";
import { VerificationView } from "./VerificationView";

export function roomPath(roomId: string): string {
  return `/room/${encodeURIComponent(roomId)}`;
}

function RoomRoute({ vm }: { vm: SessionViewModel }) {
  const params = useParams<{ id: string }>();
  const roomId = decodeURIComponent(params.id ?? "");
  // Re-read when the room arrives by sync after the link was followed.
  vm.roomList.all.value;
  const room = vm.openRoom(roomId);
  if (!room) return <section class="main empty" aria-label="Room"><p>That room is not in your list.</p></section>;
  return <RoomView vm={room} session={vm} />;
}

function SettingsRoute({ vm }: { vm: SessionViewModel }) {
  const [, navigate] = useLocation();
  const settings = vm.openSettings();
  useEffect(() => { void settings.loadSessions(); }, [settings]);
  return <SettingsView vm={settings} session={vm} onClose={() => { vm.closeSettings(); navigate("/"); }} />;
}

function Home({ vm }: { vm: SessionViewModel }) {
  useEffect(() => { vm.openRoom(null); }, [vm]);
  return (
    <section class="main empty" aria-label="Welcome">
      <h2>Welcome to Hearth</h2>
      <p>Choose a conversation, or start one with “New chat”.</p>
    </section>
  );
}

function Layout({ vm }: { vm: SessionViewModel }) {
  const [location, navigate] = useLocation();
  useEffect(() => {
    vm.notifications.onOpenRoom = (roomId) => navigate(roomPath(roomId));
  }, [vm, navigate]);
  useEffect(() => {
    document.title = vm.title.value;
  }, [vm.title.value]);
  const inRoom = location.startsWith("/room/") || location === "/settings";
  return (
    <div class={`session ${inRoom ? "in-room" : "at-list"}`}>
      <RoomListView vm={vm.roomList} session={vm} onOpen={(id) => navigate(roomPath(id))} />
      <Switch>
        <Route path="/room/:id"><RoomRoute vm={vm} /></Route>
        <Route path="/settings"><SettingsRoute vm={vm} /></Route>
        <Route><Home vm={vm} /></Route>
      </Switch>
      <SecurityView vm={vm.security} />
      {vm.incomingVerification.value && <VerificationView vm={vm.incomingVerification.value} onClose={() => vm.closeVerification()} />}
      {vm.syncError.value && <p class="sync-error" role="status">{vm.syncError.value}</p>}
    </div>
  );
}

export function SessionView({ vm }: { vm: SessionViewModel }) {
  return (
    <MediaContext.Provider value={vm.media}>
      <Router hook={useHashLocation}>
        <Layout vm={vm} />
      </Router>
    </MediaContext.Provider>
  );
}
