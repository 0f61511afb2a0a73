import type { RegisterViewModel } from "../viewmodels/RegisterViewModel";
import { ErrorText } from "./common";

export function RegisterView({ vm }: { vm: RegisterViewModel }) {
  return (
    <main class="auth">
      <h1>Create an account</h1>
      <form aria-label="Create account" onSubmit={(e) => { e.preventDefault(); void vm.submit(); }}>
        <label>Username
          <input name="username" autocomplete="username" autocapitalize="none" value={vm.username.value}
            onInput={(e) => (vm.username.value = e.currentTarget.value)} />
        </label>
        <label>Password
          <input name="password" type="password" autocomplete="new-password" value={vm.password.value}
            onInput={(e) => (vm.password.value = e.currentTarget.value)} />
        </label>
        <label>Confirm password
          <input name="confirm" type="password" autocomplete="new-password" value={vm.confirmPassword.value}
            onInput={(e) => (vm.confirmPassword.value = e.currentTarget.value)} />
        </label>
        <label>Registration token <span class="hint">(if your server asks for one)</span>
          <input name="token" aria-label="Registration token" autocapitalize="none" value={vm.token.value}
            onInput={(e) => (vm.token.value = e.currentTarget.value)} />
        </label>
        <details>
          <summary>Another homeserver</summary>
          <label>Homeserver
            <input name="homeserver" placeholder={vm.defaultHomeserver} autocapitalize="none" value={vm.homeserver.value}
              onInput={(e) => (vm.homeserver.value = e.currentTarget.value)} />
          </label>
        </details>
        <ErrorText error={vm.error.value} />
        <button type="submit" class="primary" disabled={vm.busy.value}>Create account</button>
      </form>
      <p>Have an account? <button type="button" class="link" onClick={vm.onBack}>Sign in</button></p>
    </main>
  );
}
