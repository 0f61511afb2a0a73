import type { SignInViewModel } from "../viewmodels/SignInViewModel";
import { ErrorText } from "./common";

export function SignInView({ vm, notice }: { vm: SignInViewModel; notice: string | null }) {
  return (
    <main class="auth">
      <h1>Sign in to Hearth</h1>
      {notice && <p class="notice" role="status">{notice}</p>}
      <form aria-label="Sign in" onSubmit={(e) => { e.preventDefault(); void vm.submit(); }}>
        <label>Username
          <input name="username" autocomplete="username" autocapitalize="none" value={vm.username.value}
            onInput={(e) => (vm.username.value = e.currentTarget.value)} />
        </label>
        <label>Password
          <input name="password" type="password" autocomplete="current-password" value={vm.password.value}
            onInput={(e) => (vm.password.value = e.currentTarget.value)} />
        </label>
        <details>
          <summary>Another homeserver</summary>
          <label>Homeserver
            <input name="homeserver" placeholder={vm.defaultHomeserver} autocapitalize="none" value={vm.homeserver.value}
              onInput={(e) => (vm.homeserver.value = e.currentTarget.value)} />
          </label>
        </details>
        <label class="check">
          <input type="checkbox" checked={vm.signOutOthers.value} onChange={(e) => (vm.signOutOthers.value = e.currentTarget.checked)} />
          Sign out my other sessions
        </label>
        <ErrorText error={vm.error.value} />
        <button type="submit" class="primary" disabled={vm.busy.value}>Sign in</button>
      </form>
      <p>New here? <button type="button" class="link" onClick={vm.onCreateAccount}>Create account</button></p>
    </main>
  );
}
