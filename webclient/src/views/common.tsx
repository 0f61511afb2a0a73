/** Small shared pieces: dialogs, avatars, error text. */
import type { ComponentChildren } from "preact";
import { createContext } from "preact";
import { useContext, useEffect, useRef, useState } from "preact/hooks";
import type { MediaCache } from "../matrix/media";

export const MediaContext = createContext<MediaCache | null>(null);

export function ErrorText({ error }: { error: string | null | undefined }) {
  return error ? <p class="error" role="alert">{error}</p> : null;
}

let nextId = 0;
export function useId(prefix: string): string {
  const [id] = useState(() => `${prefix}-${++nextId}`);
  return id;
}

/** A modal dialog (the browser's <dialog>: focus stays inside, Escape closes). */
export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId("dialog-title");
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    // Start in the first field, not on the close button.
    dialog?.querySelector<HTMLElement>("input:not([type=hidden]), textarea, select")?.focus();
    return () => dialog?.close();
  }, []);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onCancel={(e) => { e.preventDefault(); onClose(); }} class="dialog">
      <header class="dialog-header">
        <h2 id={titleId}>{title}</h2>
        <button type="button" class="icon" aria-label="Close" onClick={onClose}>✕</button>
      </header>
      {children}
    </dialog>
  );
}

function initials(name: string): string {
  const clean = name.replace(/^[@#!]/, "").trim();
  return (clean[0] ?? "?").toUpperCase();
}

function hue(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) % 360;
  return h;
}

/** An avatar: the picture when there is one, else the name's initial on a colour. */
export function Avatar({ name, id, mxc, size = 32 }: { name: string; id: string; mxc?: string | null; size?: number }) {
  const media = useContext(MediaContext);
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    setUrl(null);
    if (mxc && media) media.url(mxc, null, "image/png", { width: size * 2, height: size * 2 }).then((u) => live && setUrl(u), () => undefined);
    return () => { live = false; };
  }, [mxc, media, size]);
  const style = { width: `${size}px`, height: `${size}px`, fontSize: `${Math.round(size / 2.2)}px`, backgroundColor: `hsl(${hue(id)} 55% 45%)` };
  return url
    ? <img class="avatar" src={url} alt="" style={style} />
    : <span class="avatar" aria-hidden="true" style={style}>{initials(name)}</span>;
}

export function PresenceDot({ state, label }: { state: string; label: string }) {
  return <span class={`presence presence-${state}`} role="img" aria-label={label} title={label} />;
}
