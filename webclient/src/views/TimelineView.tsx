/**
 * The timeline: a log region of tiles, each drawn by the view for its kind;
 * keeps to the bottom as messages arrive, pages back at the top.
 */
import type { JSX } from "preact";
import { useEffect, useLayoutEffect, useRef } from "preact/hooks";
import type { AnnouncementTile, DateTile, GapTile, MessageTile, Tile } from "../timeline/tiles/types";
import { isMessageTile } from "../timeline/tiles/types";
import type { ComposerViewModel } from "../viewmodels/ComposerViewModel";
import type { TimelineViewModel } from "../viewmodels/TimelineViewModel";
import { MessageTileView } from "./tiles/MessageTileView";

function DateTileView({ tile }: { tile: DateTile }) {
  return <li class="tile date" role="separator" aria-label={tile.label}><span>{tile.label}</span></li>;
}

function AnnouncementTileView({ tile }: { tile: AnnouncementTile }) {
  return <li class="tile announcement">{tile.text}</li>;
}

function GapTileView({ tile, vm }: { tile: GapTile; vm: TimelineViewModel }) {
  if (tile.atStart) return <li class="tile gap hint">This is the beginning of the conversation.</li>;
  return (
    <li class="tile gap">
      <button type="button" disabled={tile.loading} onClick={() => void vm.loadOlder()}>
        {tile.loading ? "Loading older messages…" : "Load older messages"}
      </button>
    </li>
  );
}

export function TimelineView({ vm, composer, onOpenThread, label }: {
  vm: TimelineViewModel; composer: ComposerViewModel; onOpenThread?: (id: string) => void; label: string;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const tiles = vm.tiles.value;
  const firstUnread = vm.threadRootId ? null : vm.firstUnreadEventId();
  const unreadAbove = !firstUnread && vm.unreadAboveLoaded();

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && atBottom.current) el.scrollTop = el.scrollHeight;
  }, [tiles]);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const onScroll = () => {
      atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
      if (el.scrollTop < 80 && vm.canPaginate.value && !vm.paginating.value) {
        const before = el.scrollHeight;
        void vm.loadOlder().then(() => requestAnimationFrame(() => { el.scrollTop += el.scrollHeight - before; }));
      }
    };
    el.addEventListener("scroll", onScroll, { passive: true });
    return () => el.removeEventListener("scroll", onScroll);
  }, [vm]);

  const jumpToUnread = async () => {
    const target = firstUnread ?? (await vm.loadFirstUnread());
    if (!target) return;
    atBottom.current = false;
    // After the tiles loaded above have been drawn.
    requestAnimationFrame(() => {
      const el = scroller.current?.querySelector<HTMLElement>(`[data-event-id="${CSS.escape(target)}"]`);
      el?.scrollIntoView({ block: "center" });
      el?.focus();
    });
  };

  const render = (tile: Tile): JSX.Element => {
    if (isMessageTile(tile)) {
      return <MessageTileView key={tile.key} tile={tile as MessageTile} composer={composer} onOpenThread={onOpenThread} inThread={Boolean(vm.threadRootId)} />;
    }
    switch (tile.kind) {
      case "date": return <DateTileView key={tile.key} tile={tile} />;
      case "announcement": return <AnnouncementTileView key={tile.key} tile={tile} />;
      case "gap": return <GapTileView key={tile.key} tile={tile} vm={vm} />;
      case "unreadMarker": return <li key={tile.key} class="tile unread-marker" role="separator" aria-label="New messages"><span>New messages</span></li>;
    }
  };

  return (
    <div class="timeline-wrap">
      {(firstUnread || unreadAbove) && <button type="button" class="jump-unread" onClick={() => void jumpToUnread()}>Jump to first unread</button>}
      <div class="timeline" ref={scroller} role="log" aria-label={label} aria-live="polite" tabIndex={0}>
        <ol class="tiles">{tiles.map(render)}</ol>
      </div>
    </div>
  );
}
