/**
 * Hands the secret-storage (recovery) key to matrix-js-sdk when it asks for it.
 * The key is only held while a setup or a recovery runs, then forgotten.
 */
import type { CryptoCallbacks } from "matrix-js-sdk/lib/crypto-api";
import type { SecretStorageKeyDescription } from "matrix-js-sdk/lib/secret-storage";

export class SecretStorageKeys {
  private key: Uint8Array<ArrayBuffer> | null = null;

  hold(key: Uint8Array<ArrayBuffer>): void {
    this.key = key;
  }

  forget(): void {
    this.key = null;
  }

  callbacks(): CryptoCallbacks {
    return {
      getSecretStorageKey: async ({ keys }: { keys: Record<string, SecretStorageKeyDescription> }) => {
        const keyId = Object.keys(keys)[0];
        if (!this.key || keyId === undefined) return null;
        return [keyId, this.key];
      },
      cacheSecretStorageKey: (_keyId: string, _info: SecretStorageKeyDescription, key: Uint8Array<ArrayBuffer>) => {
        this.key = key;
      },
    };
  }
}
