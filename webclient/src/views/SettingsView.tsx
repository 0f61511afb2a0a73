/** Settings: profile, password, sessions, notifications, theme, sign out. */
import { formatDistanceToNowStrict } from "date-fns";
import { useState } from "preact/hooks";
import type { SessionViewModel } from "../viewmodels/SessionViewModel";
import type { SettingsViewModel, Theme } from "../viewmodels/SettingsViewModel";
import { Avatar, Dialog, ErrorText } from "./common";

function PasswordPrompt({ title, action, onDone, onClose }: { title: string; action: string; onDone: (password: string) => Promise<boolean>; onClose: () => void }) {
  const [password, setPassword] = useState("");
  return (
    <Dialog title={title} onClose={onClose}>
      <form onSubmit={async (e) => { e.preventDefault(); if (await onDone(password)) onClose(); }}>
        <label>Your password<input type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} /></label>
        <button type="submit" class="primary">{action}</button>
      </form>
    </Dialog>
  );
}

export function SettingsView({ vm, session, onClose }: { vm: SettingsViewModel; session: SessionViewModel; onClose: () => void }) {
  const [name, setName] = useState<string | null>(null);
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [signingOut, setSigningOut] = useState<string[] | null>(null);
  const notifications = session.notifications;
  const security = session.security;
  return (
    <section class="main settings" aria-label="Settings">
      <header class="room-header">
        <button type="button" class="icon back" aria-label="Back to rooms" onClick={onClose}>←</button>
        <h2>Settings</h2>
        <button type="button" onClick={onClose}>Close settings</button>
      </header>
      <div class="settings-body">
        {vm.status.value && <p class="notice" role="status">{vm.status.value}</p>}
        <ErrorText error={vm.error.value} />
        <section aria-labelledby="settings-profile">
          <h3 id="settings-profile">Profile</h3>
          <div class="row">
            <Avatar name={vm.displayName.value || session.userId} id={session.userId} mxc={vm.avatarMxc.value} size={64} />
            <label class="button-like">Change avatar
              <input type="file" accept="image/*" class="visually-hidden" onChange={(e) => { const f = e.currentTarget.files?.[0]; if (f) void vm.setAvatar(f); }} />
            </label>
          </div>
          <p class="hint">{session.userId}</p>
          <form onSubmit={(e) => { e.preventDefault(); void vm.saveDisplayName(name ?? vm.displayName.value); }}>
            <label>Display name<input value={name ?? vm.displayName.value} onInput={(e) => setName(e.currentTarget.value)} /></label>
            <button type="submit">Save display name</button>
          </form>
        </section>
        <section aria-labelledby="settings-password">
          <h3 id="settings-password">Password</h3>
          <form onSubmit={async (e) => { e.preventDefault(); if (await vm.changePassword(current, next, confirm)) { setCurrent(""); setNext(""); setConfirm(""); } }}>
            <label>Current password<input type="password" autocomplete="current-password" value={current} onInput={(e) => setCurrent(e.currentTarget.value)} /></label>
            <label>New password<input type="password" autocomplete="new-password" value={next} onInput={(e) => setNext(e.currentTarget.value)} /></label>
            <label>Confirm new password<input type="password" autocomplete="new-password" value={confirm} onInput={(e) => setConfirm(e.currentTarget.value)} /></label>
            <button type="submit" disabled={vm.busy.value}>Change password</button>
          </form>
        </section>
        <section aria-labelledby="settings-sessions">
          <h3 id="settings-sessions">Sessions</h3>
          <p>This session is {security.verified.value ? "verified" : "not verified"}.</p>
          {!security.verified.value && <button type="button" onClick={() => security.chooseRecoveryKey()}>Verify with recovery key</button>}
          <ul class="sessions" aria-label="Sessions">
            {vm.sessions.value.map((s) => (
              <li key={s.deviceId}>
                <div>
                  <strong>{s.name}</strong> <span class="hint">{s.deviceId}</span>
                  {s.current && <span class="badge">this session</span>}
                  <br />
                  <span class="hint">
                    {s.verified === true ? "Verified" : s.verified === false ? "Not verified" : ""}
                    {s.lastSeen ? ` · last active ${formatDistanceToNowStrict(s.lastSeen, { addSuffix: true })}` : ""}
                  </span>
                </div>
                {!s.current && <button type="button" aria-label={`Sign out ${s.name} (${s.deviceId})`} onClick={() => setSigningOut([s.deviceId])}>Sign out</button>}
              </li>
            ))}
          </ul>
          {vm.sessions.value.some((s) => !s.current) && (
            <button type="button" onClick={() => setSigningOut(vm.sessions.value.filter((s) => !s.current).map((s) => s.deviceId))}>Sign out all other sessions</button>
          )}
        </section>
        <section aria-labelledby="settings-notifications">
          <h3 id="settings-notifications">Notifications</h3>
          {notifications.permission.value === "unsupported" ? <p>This browser cannot show notifications.</p> : (
            <label class="check">
              <input type="checkbox" checked={notifications.enabled.value}
                onChange={(e) => (e.currentTarget.checked ? void notifications.enable() : notifications.disable())} />
              Notify me of direct messages and mentions while Hearth is in the background
            </label>
          )}
          {notifications.permission.value === "denied" && <p class="hint">Notifications are blocked in this browser's site settings.</p>}
        </section>
        <section aria-labelledby="settings-theme">
          <h3 id="settings-theme">Theme</h3>
          <fieldset>
            <legend class="visually-hidden">Theme</legend>
            {(["light", "dark", "system"] as Theme[]).map((theme) => (
              <label class="check" key={theme}>
                <input type="radio" name="theme" checked={vm.theme.value === theme} onChange={() => vm.setTheme(theme)} />
                {theme === "light" ? "Light" : theme === "dark" ? "Dark" : "Same as the system"}
              </label>
            ))}
          </fieldset>
        </section>
        <section aria-labelledby="settings-account">
          <h3 id="settings-account">Account</h3>
          <button type="button" class="danger" onClick={() => void vm.signOut()}>Sign out</button>
        </section>
      </div>
      {signingOut && (
        <PasswordPrompt title={signingOut.length === 1 ? "Sign out that session" : "Sign out other sessions"} action="Confirm sign out"
          onDone={(password) => vm.signOutSessions(signingOut, password)} onClose={() => setSigningOut(null)} />
      )}
    </section>
  );
}
