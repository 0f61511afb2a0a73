/** The sign-in form: homeserver (default: this page's server), username, password. */
import { signal } from "@preact/signals";
import { AuthError, describeError, signIn } from "../matrix/auth";
import { signOutOtherSessions } from "../matrix/sessions";
import type { StoredSession } from "../matrix/sessionStore";
import type { Platform } from "../platform";
import { ViewModel } from "./ViewModel";

export interface SignedIn {
  session: StoredSession;
  password: string;
  newAccount: boolean;
}

export class SignInViewModel extends ViewModel {
  readonly homeserver = signal("");
  readonly username = signal("");
  readonly password = signal("");
  readonly signOutOthers = signal(false);
  readonly busy = signal(false);
  readonly error = signal<string | null>(null);

  constructor(
    private readonly platform: Platform,
    private readonly onSignedIn: (result: SignedIn) => Promise<void>,
    readonly onCreateAccount: () => void,
  ) {
    super();
  }

  get defaultHomeserver(): string {
    return new URL(this.platform.origin).host;
  }

  async submit(): Promise<void> {
    if (this.busy.value) return;
    if (!this.username.value.trim() || !this.password.value) {
      this.error.value = "Enter your username and password";
      return;
    }
    this.busy.value = true;
    this.error.value = null;
    try {
      const baseUrl = await this.platform.discover(this.homeserver.value);
      const session = await signIn(this.platform.anonymousClient(baseUrl), baseUrl, this.username.value, this.password.value);
      if (this.signOutOthers.value) {
        await signOutOtherSessions(this.platform.authedClient(session), session, this.password.value);
      }
      await this.onSignedIn({ session, password: this.password.value, newAccount: false });
    } catch (error) {
      this.error.value = error instanceof AuthError ? error.message : describeError(error);
    } finally {
      this.busy.value = false;
    }
  }
}
