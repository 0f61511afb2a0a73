/**
 * Attachments in the spec's encrypted file format (AES-CTR-256, a SHA-256 hash
 * of the ciphertext, the key as a JWK), through WebCrypto.
 */
import type { EncryptedFileInfo } from "../timeline/tiles/types";

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/=+$/, "");
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const normal = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(normal + "=".repeat((4 - (normal.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export async function encryptAttachment(plain: ArrayBuffer): Promise<{ data: ArrayBuffer; info: Omit<EncryptedFileInfo, "url"> }> {
  const iv = new Uint8Array(16);
  // The low 64 bits are the block counter and start at zero, as the spec asks.
  crypto.getRandomValues(iv.subarray(0, 8));
  const key = await crypto.subtle.generateKey({ name: "AES-CTR", length: 256 }, true, ["encrypt", "decrypt"]);
  const jwk = await crypto.subtle.exportKey("jwk", key);
  const data = await crypto.subtle.encrypt({ name: "AES-CTR", counter: iv, length: 64 }, key, plain);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return {
    data,
    info: {
      v: "v2",
      key: { kty: "oct", alg: "A256CTR", k: jwk.k!, key_ops: ["encrypt", "decrypt"], ext: true },
      iv: toBase64(iv),
      hashes: { sha256: toBase64(hash) },
    },
  };
}

export class AttachmentError extends Error {}

export async function decryptAttachment(cipher: ArrayBuffer, info: EncryptedFileInfo): Promise<ArrayBuffer> {
  if (info.v && info.v !== "v2") throw new AttachmentError(`Unknown encrypted file version ${info.v}`);
  if (!info.hashes?.sha256 || !info.key?.k || info.key.alg !== "A256CTR") throw new AttachmentError("The attachment's key is incomplete");
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", cipher));
  if (toBase64(hash) !== info.hashes.sha256.replace(/=+$/, "")) throw new AttachmentError("The attachment was altered");
  const key = await crypto.subtle.importKey("jwk", { kty: "oct", k: info.key.k, alg: "A256CTR", ext: true }, { name: "AES-CTR" }, false, ["decrypt"]);
  const iv = fromBase64(info.iv);
  return await crypto.subtle.decrypt({ name: "AES-CTR", counter: iv, length: 64 }, key, cipher);
}
