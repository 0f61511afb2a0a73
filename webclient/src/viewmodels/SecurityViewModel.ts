/**
 * Encryption set-up for this session. On an account's first sign-in: create
 * cross-signing keys and a secure key backup, and show the recovery key once.
 * On a new session of an account that has them: ask to verify this session,
 * with the recovery key or by comparing emoji with another session.
 */
import { signal } from "@preact/signals";
import type { MatrixClient } from "matrix-js-sdk";
import { decodeRecoveryKey, type GeneratedSecretStorageKey } from "matrix-js-sdk/lib/crypto-api";
import { describeError, passwordAuth } from "../matrix/auth";
import type { SecretStorageKeys } from "../matrix/secretStorageKeys";
import { VerificationViewModel } from "./VerificationViewModel";
import { ViewModel } from "./ViewModel";

export type SecurityStep =
  | { kind: "checking" }
  | { kind: "settingUp" }
  | { kind: "recoveryKey"; recoveryKey: string }
  | { kind: "unverified" }
  | { kind: "enterRecoveryKey"; error: string | null; busy: boolean }
  | { kind: "verifying"; vm: VerificationViewModel }
  | { kind: "ready" }
  | { kind: "failed"; error: string };

export class SecurityViewModel extends ViewModel {
  readonly step = signal<SecurityStep>({ kind: "checking" });
  /** Whether this session is verified by the account's cross-signing identity. */
  readonly verified = signal(false);

  constructor(
    private readonly client: MatrixClient,
    private readonly keys: SecretStorageKeys,
    private password: string | null,
    private readonly newAccount: boolean,
  ) {
    super();
  }

  private get crypto() {
    const crypto = this.client.getCrypto();
    if (!crypto) throw new Error("Encryption is not available in this browser");
    return crypto;
  }

  async start(): Promise<void> {
    try {
      const userId = this.client.getSafeUserId();
      const hasIdentity = await this.crypto.userHasCrossSigningKeys(userId, true);
      if (!hasIdentity) {
        if (this.password !== null || this.newAccount) await this.setUp();
        else this.step.value = { kind: "ready" };
      } else if (await this.isThisDeviceVerified()) {
        this.verified.value = true;
        this.step.value = { kind: "ready" };
        void this.crypto.checkKeyBackupAndEnable();
      } else {
        this.step.value = { kind: "unverified" };
      }
    } catch (error) {
      this.step.value = { kind: "failed", error: describeError(error) };
    } finally {
      // The password was only kept for the cross-signing upload.
      this.password = null;
    }
  }

  /** Waits (bounded) until this session shows as cross-signed after a verification. */
  private async awaitVerified(): Promise<void> {
    for (let i = 0; i < 40 && !this.isDisposed; i++) {
      if (await this.isThisDeviceVerified()) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await this.refreshVerified();
  }

  /** Re-reads this session's verification (after a verification finished). */
  async refreshVerified(): Promise<void> {
    this.verified.value = await this.isThisDeviceVerified();
    if (this.verified.value) {
      void this.crypto.checkKeyBackupAndEnable();
      if (this.step.value.kind === "unverified") this.step.value = { kind: "ready" };
    }
  }

  private async isThisDeviceVerified(): Promise<boolean> {
    const status = await this.crypto.getDeviceVerificationStatus(this.client.getSafeUserId(), this.client.getDeviceId()!);
    return Boolean(status?.crossSigningVerified);
  }

  private async setUp(): Promise<void> {
    this.step.value = { kind: "settingUp" };
    const userId = this.client.getSafeUserId();
    const password = this.password;
    await this.crypto.bootstrapCrossSigning({
      authUploadDeviceSigningKeys: async (makeRequest) => {
        // The first attempt carries no auth; a server that asks gets the password.
        try {
          await makeRequest(null);
        } catch (error) {
          const session = (error as { data?: { session?: string } }).data?.session;
          if (password === null) throw error;
          await makeRequest({ ...passwordAuth(userId, password), session } as never);
        }
      },
    });
    const generated: GeneratedSecretStorageKey = await this.crypto.createRecoveryKeyFromPassphrase();
    this.keys.hold(generated.privateKey);
    try {
      await this.crypto.bootstrapSecretStorage({
        createSecretStorageKey: async () => generated,
        setupNewSecretStorage: true,
        setupNewKeyBackup: true,
      });
    } finally {
      this.keys.forget();
    }
    this.verified.value = true;
    this.step.value = { kind: "recoveryKey", recoveryKey: generated.encodedPrivateKey! };
  }

  /** "Continue" after the recovery key was shown: it is never shown again. */
  acknowledgeRecoveryKey(): void {
    this.step.value = { kind: "ready" };
  }

  chooseRecoveryKey(): void {
    this.step.value = { kind: "enterRecoveryKey", error: null, busy: false };
  }

  skip(): void {
    this.step.value = { kind: "ready" };
  }

  back(): void {
    this.step.value = this.verified.value ? { kind: "ready" } : { kind: "unverified" };
  }

  async verifyWithRecoveryKey(text: string): Promise<void> {
    this.step.value = { kind: "enterRecoveryKey", error: null, busy: true };
    try {
      let key: Uint8Array<ArrayBuffer>;
      try {
        key = new Uint8Array(decodeRecoveryKey(text.trim()));
      } catch {
        throw new Error("That is not a recovery key");
      }
      const keyId = await this.client.secretStorage.getDefaultKeyId();
      const info = keyId ? await this.client.secretStorage.getKey(keyId) : null;
      if (!info || !(await this.client.secretStorage.checkKey(key, info[1]))) {
        throw new Error("That recovery key does not open this account's secure backup");
      }
      this.keys.hold(key);
      try {
        // Imports the cross-signing keys from secret storage and signs this device.
        await this.crypto.bootstrapCrossSigning({});
        await this.crypto.loadSessionBackupPrivateKeyFromSecretStorage();
      } finally {
        this.keys.forget();
      }
      await this.crypto.checkKeyBackupAndEnable();
      this.verified.value = await this.isThisDeviceVerified();
      this.step.value = { kind: "ready" };
      // Earlier messages' keys come from the backup in the background.
      void this.crypto.restoreKeyBackup().then(
        (result) => console.info(`Restored ${result.imported} of ${result.total} room keys from the backup`),
        (error) => console.warn("Restoring keys from the backup failed", error),
      );
    } catch (error) {
      this.step.value = { kind: "enterRecoveryKey", error: describeError(error), busy: false };
    }
  }

  /** Emoji verification with another of this account's sessions. */
  async verifyWithOtherSession(): Promise<void> {
    const request = await this.crypto.requestOwnUserVerification();
    // When it is done, the dialog stays ("Session verified", "Done") while the other session's
    // signature of this one arrives; "Done" then goes on (back()).
    const vm = new VerificationViewModel(request, () => this.awaitVerified());
    this.step.value = { kind: "verifying", vm };
  }

  override dispose(): void {
    const step = this.step.value;
    if (step.kind === "verifying") step.vm.dispose();
    super.dispose();
  }
}
