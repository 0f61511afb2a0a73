/** Bodies of image, video, audio and file tiles (media fetched and decrypted on demand). */
import { useContext, useEffect, useState } from "preact/hooks";
import type { AudioTile, FileTile, ImageTile, MediaInfo, VideoTile } from "../../timeline/tiles/types";
import { Dialog, MediaContext } from "../common";

function useMediaUrl(media: MediaInfo, thumbnail: boolean): { url: string | null; error: string | null } {
  const cache = useContext(MediaContext);
  const [state, setState] = useState<{ url: string | null; error: string | null }>({ url: null, error: null });
  useEffect(() => {
    let live = true;
    const source = thumbnail && media.thumbnail?.mxc ? media.thumbnail : media;
    if (!cache || !source.mxc) {
      setState({ url: null, error: "No media" });
      return;
    }
    const size = thumbnail && !source.file ? { width: 400, height: 300 } : undefined;
    cache.url(source.mxc, source.file, media.mimetype, size).then(
      (url) => live && setState({ url, error: null }),
      (e: Error) => live && setState({ url: null, error: e.message }),
    );
    return () => { live = false; };
  }, [cache, media.mxc, thumbnail]);
  return state;
}

function formatSize(size: number | null): string {
  if (size === null) return "";
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(0)} KB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

export function ImageBody({ tile }: { tile: ImageTile }) {
  const thumb = useMediaUrl(tile.media, true);
  const [open, setOpen] = useState(false);
  const ratio = tile.media.width && tile.media.height ? `${tile.media.width} / ${tile.media.height}` : undefined;
  return (
    <>
      <button type="button" class="image-button" aria-label={`Open image ${tile.body}`} onClick={() => setOpen(true)}>
        {thumb.url ? <img class="thumbnail" src={thumb.url} alt={tile.body} style={{ aspectRatio: ratio }} /> : <span class="media-placeholder">{thumb.error ?? "Loading image…"}</span>}
      </button>
      {open && <FullImage tile={tile} onClose={() => setOpen(false)} />}
    </>
  );
}

function FullImage({ tile, onClose }: { tile: ImageTile; onClose: () => void }) {
  const full = useMediaUrl(tile.media, false);
  return (
    <Dialog title={tile.body} onClose={onClose}>
      {full.url ? <img class="full-image" src={full.url} alt={tile.body} /> : <p>{full.error ?? "Loading…"}</p>}
      {full.url && <a href={full.url} download={tile.body}>Download {tile.body}</a>}
    </Dialog>
  );
}

export function VideoBody({ tile }: { tile: VideoTile }) {
  const media = useMediaUrl(tile.media, false);
  return media.url ? <video class="video" controls preload="metadata" src={media.url} aria-label={tile.body} /> : <span class="media-placeholder">{media.error ?? "Loading video…"}</span>;
}

export function AudioBody({ tile }: { tile: AudioTile }) {
  const media = useMediaUrl(tile.media, false);
  return media.url ? <audio controls preload="metadata" src={media.url} aria-label={tile.body} /> : <span class="media-placeholder">{media.error ?? "Loading audio…"}</span>;
}

export function FileBody({ tile }: { tile: FileTile }) {
  const cache = useContext(MediaContext);
  const [error, setError] = useState<string | null>(null);
  const download = async () => {
    if (!cache || !tile.media.mxc) return;
    try {
      const url = await cache.url(tile.media.mxc, tile.media.file, tile.media.mimetype);
      const a = document.createElement("a");
      a.href = url;
      a.download = tile.body;
      a.click();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <div class="file">
      <span aria-hidden="true">📄</span> {tile.body} <span class="hint">{formatSize(tile.media.size)}</span>
      <button type="button" onClick={download} aria-label={`Download ${tile.body}`}>Download</button>
      {error && <span class="error">{error}</span>}
    </div>
  );
}
