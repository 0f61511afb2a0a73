/**
 * The top of the app: signed out (sign-in or create-account form), starting a
 * session, or inside one. Restores the stored session on load.
 */
import { signal } from "@preact/signals";
import { HttpApiEvent } from "matrix-js-sdk";
import { SessionStore, type StoredSession } from "../matrix/sessionStore";
import { describeError } from "../matrix/auth";
import type { Platform } from "../platform";
import { RegisterViewModel } from "./RegisterViewModel";
import { SessionViewModel } from "./SessionViewModel";
import { SignInViewModel, type SignedIn } from "./SignInViewModel";

export type Screen =
  | { kind: "loading"; message: string }
  | { kind: "signIn"; vm: SignInViewModel }
  | { kind: "register"; vm: RegisterViewModel }
  | { kind: "session"; vm: SessionViewModel };

export class AppViewModel {
  readonly screen = signal<Screen>({ kind: "loading", message: "Loading…" });
  readonly notice = signal<string | null>(null);
  private readonly store: SessionStore;

  constructor(private readonly platform: Platform) {
    this.store = new SessionStore(platform.storage);
  }

  async start(): Promise<void> {
    const stored = this.store.load();
    if (stored) await this.openSession(stored, null, false);
    else this.showSignIn();
  }

  showSignIn(): void {
    this.replace({ kind: "signIn", vm: new SignInViewModel(this.platform, (r) => this.signedIn(r), () => this.showRegister()) });
  }

  showRegister(): void {
    this.replace({ kind: "register", vm: new RegisterViewModel(this.platform, (r) => this.signedIn(r), () => this.showSignIn()) });
  }

  private async signedIn(result: SignedIn): Promise<void> {
    this.store.save(result.session);
    await this.openSession(result.session, result.password, result.newAccount);
  }

  private async openSession(session: StoredSession, password: string | null, newAccount: boolean): Promise<void> {
    this.replace({ kind: "loading", message: "Signing in…" });
    try {
      const open = await this.platform.openClient(session);
      open.client.on(HttpApiEvent.SessionLoggedOut, () => void this.signedOut("You were signed out on the server."));
      const vm = new SessionViewModel(this.platform, open, session, { password, newAccount }, (notice) => this.signedOut(notice));
      await vm.start();
      this.replace({ kind: "session", vm });
    } catch (error) {
      this.notice.value = `Could not open your session: ${describeError(error)}`;
      this.store.clear();
      this.showSignIn();
    }
  }

  private async signedOut(notice?: string): Promise<void> {
    const current = this.screen.value;
    this.store.clear();
    if (current.kind === "session") await current.vm.closeLocally();
    this.notice.value = notice ?? null;
    this.showSignIn();
  }

  private replace(screen: Screen): void {
    const old = this.screen.value;
    if (old.kind === "signIn" || old.kind === "register" || old.kind === "session") {
      if (old.kind !== "session" || screen.kind !== "session") old.vm.dispose();
    }
    this.screen.value = screen;
  }
}
