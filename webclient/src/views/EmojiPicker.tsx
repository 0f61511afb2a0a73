/** A small emoji picker: a search box and a grid of buttons named by each emoji's label. */
import { useEffect, useState } from "preact/hooks";
import { loadEmoji, searchEmoji, type Emoji } from "../matrix/emoji";

export function EmojiPicker({ label, onPick }: { label: string; onPick: (emoji: string) => void }) {
  const [open, setOpen] = useState(false);
  const [all, setAll] = useState<Emoji[] | null>(null);
  const [term, setTerm] = useState("");
  useEffect(() => {
    if (open && !all) void loadEmoji().then(setAll);
  }, [open, all]);
  return (
    <span class="emoji-picker">
      <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>{label}</button>
      {open && (
        <div class="emoji-popover" role="dialog" aria-label="Emoji" onKeyDown={(e) => { if (e.key === "Escape") setOpen(false); }}>
          <input type="search" aria-label="Search emoji" placeholder="Search emoji" value={term} autoFocus
            onInput={(e) => setTerm(e.currentTarget.value)} />
          <div class="emoji-grid">
            {!all && <span>Loading…</span>}
            {all && searchEmoji(all, term).map((e) => (
              <button type="button" key={e.unicode} aria-label={e.label} title={e.label}
                onClick={() => { onPick(e.unicode); setOpen(false); setTerm(""); }}>{e.unicode}</button>
            ))}
          </div>
        </div>
      )}
    </span>
  );
}
