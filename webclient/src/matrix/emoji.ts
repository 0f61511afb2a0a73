/** Emoji for the picker and quick reactions, from the emojibase data package (loaded on demand). */

export interface Emoji {
  unicode: string;
  label: string;
}

export const QUICK_REACTIONS: Emoji[] = [
  { unicode: "👍", label: "thumbs up" },
  { unicode: "❤️", label: "red heart" },
  { unicode: "😂", label: "face with tears of joy" },
  { unicode: "😮", label: "face with open mouth" },
  { unicode: "😢", label: "crying face" },
  { unicode: "🎉", label: "party popper" },
];

let all: Promise<Emoji[]> | null = null;

export function loadEmoji(): Promise<Emoji[]> {
  all ??= import("emojibase-data/en/compact.json").then((module) =>
    (module.default as { unicode: string; label: string; group?: number }[])
      // Group 2 holds the skin-tone and hair components, not emoji of their own.
      .filter((e) => e.group !== undefined && e.group !== 2)
      .map((e) => ({ unicode: e.unicode, label: e.label })),
  );
  return all;
}

export function searchEmoji(list: Emoji[], term: string, limit = 80): Emoji[] {
  const needle = term.trim().toLowerCase();
  const found = needle ? list.filter((e) => e.label.toLowerCase().includes(needle)) : list;
  return found.slice(0, limit);
}
