/** The "Create account" form, with an optional registration token. */
import { signal } from "@preact/signals";
import { AuthError, describeError, register } from "../matrix/auth";
import type { Platform } from "../platform";
import type { SignedIn } from "./SignInViewModel";
import { ViewModel } from "./ViewModel";

export class RegisterViewModel extends ViewModel {
  readonly homeserver = signal("");
  readonly username = signal("");
  readonly password = signal("");
  readonly confirmPassword = signal("");
  readonly token = signal("");
  readonly busy = signal(false);
  readonly error = signal<string | null>(null);

  constructor(
    private readonly platform: Platform,
    private readonly onSignedIn: (result: SignedIn) => Promise<void>,
    readonly onBack: () => void,
  ) {
    super();
  }

  get defaultHomeserver(): string {
    return new URL(this.platform.origin).host;
  }

  validate(): string | null {
    if (!/^[a-z0-9._=\-/+]+$/.test(this.username.value.trim())) {
      return "A username uses only lower-case letters, digits and . _ = - / +";
    }
    if (!this.password.value) return "Choose a password";
    if (this.password.value !== this.confirmPassword.value) return "The passwords do not match";
    return null;
  }

  async submit(): Promise<void> {
    if (this.busy.value) return;
    const problem = this.validate();
    if (problem) {
      this.error.value = problem;
      return;
    }
    this.busy.value = true;
    this.error.value = null;
    try {
      const baseUrl = await this.platform.discover(this.homeserver.value);
      const session = await register(this.platform.anonymousClient(baseUrl), baseUrl, {
        username: this.username.value,
        password: this.password.value,
        token: this.token.value.trim() || undefined,
      });
      await this.onSignedIn({ session, password: this.password.value, newAccount: true });
    } catch (error) {
      this.error.value = error instanceof AuthError ? error.message : describeError(error);
    } finally {
      this.busy.value = false;
    }
  }
}
