/**
 * Media from the content repository: authenticated downloads (the spec's
 * /_matrix/client/v1/media), decrypted for encrypted rooms, as blob: URLs.
 */
import type { MatrixClient } from "matrix-js-sdk";
import type { EncryptedFileInfo } from "../timeline/tiles/types";
import { decryptAttachment } from "./attachments";

export class MediaCache {
  private readonly urls = new Map<string, Promise<string>>();

  constructor(private readonly client: MatrixClient) {}

  private async fetchBytes(httpUrl: string): Promise<ArrayBuffer> {
    const response = await fetch(httpUrl, { headers: { Authorization: `Bearer ${this.client.getAccessToken()}` } });
    if (!response.ok) throw new Error(`Download failed (${response.status})`);
    return await response.arrayBuffer();
  }

  /** A blob: URL for the media (a thumbnail when `size` is given and it is not encrypted). */
  url(mxc: string, file: EncryptedFileInfo | null, mimetype: string, size?: { width: number; height: number }): Promise<string> {
    const key = `${mxc}|${size ? `${size.width}x${size.height}` : "full"}`;
    let url = this.urls.get(key);
    if (!url) {
      url = (async () => {
        const http = size && !file
          ? this.client.mxcUrlToHttp(mxc, size.width, size.height, "scale", false, true, true)
          : this.client.mxcUrlToHttp(mxc, undefined, undefined, undefined, false, true, true);
        if (!http) throw new Error("Not a media URL");
        let bytes = await this.fetchBytes(http);
        if (file) bytes = await decryptAttachment(bytes, file);
        return URL.createObjectURL(new Blob([bytes], { type: mimetype }));
      })();
      url.catch(() => this.urls.delete(key));
      this.urls.set(key, url);
    }
    return url;
  }

  dispose(): void {
    for (const url of this.urls.values()) url.then((u) => URL.revokeObjectURL(u), () => undefined);
    this.urls.clear();
  }
}
