// @vitest-environment node
// WebCrypto as in the browser (jsdom's ArrayBuffers are of another realm).
import { describe, expect, it } from "vitest";
import { decryptAttachment, encryptAttachment } from "../src/matrix/attachments";

describe("encrypted attachments", () => {
  it("round-trips and detects tampering", async () => {
    const plain = new TextEncoder().encode("a picture, really").buffer as ArrayBuffer;
    const { data, info } = await encryptAttachment(plain);
    expect(new Uint8Array(data)).not.toEqual(new Uint8Array(plain));
    expect(info.v).toBe("v2");
    expect(info.key.alg).toBe("A256CTR");
    const back = await decryptAttachment(data, { ...info, url: "mxc://hs/x" });
    expect(new TextDecoder().decode(back)).toBe("a picture, really");
    const tampered = new Uint8Array(data.slice(0));
    tampered[0]! ^= 1;
    await expect(decryptAttachment(tampered.buffer, { ...info, url: "mxc://hs/x" })).rejects.toThrow("altered");
  });
});
