/** The frame every message tile shares (sender, time, reply, reactions, receipts, actions) and its body by kind. */
import { format } from "date-fns";
import { useState } from "preact/hooks";
import { QUICK_REACTIONS } from "../../matrix/emoji";
import type { MessageTile } from "../../timeline/tiles/types";
import type { ComposerViewModel } from "../../viewmodels/ComposerViewModel";
import { Avatar } from "../common";
import { EmojiPicker } from "../EmojiPicker";
import { AudioBody, FileBody, ImageBody, VideoBody } from "./MediaBody";

function Body({ tile }: { tile: MessageTile }) {
  switch (tile.kind) {
    case "text":
      if (tile.msgtype === "m.emote") return <p class="body emote">* {tile.senderName} {tile.body}</p>;
      return tile.html
        ? <div class={`body ${tile.msgtype === "m.notice" ? "notice" : ""}`} dangerouslySetInnerHTML={{ __html: tile.html }} />
        : <p class={`body ${tile.msgtype === "m.notice" ? "notice" : ""}`}>{tile.body}</p>;
    case "image": return <ImageBody tile={tile} />;
    case "video": return <VideoBody tile={tile} />;
    case "audio": return <AudioBody tile={tile} />;
    case "file": return <FileBody tile={tile} />;
    case "encrypted":
      return <p class="body undecryptable">{tile.failed ? "🔒 Unable to decrypt this message yet; it will appear when its key arrives." : "🔒 Decrypting…"}</p>;
    case "redacted":
      return <p class="body deleted">Message deleted</p>;
  }
}

export function MessageTileView({ tile, composer, onOpenThread, inThread }: {
  tile: MessageTile; composer: ComposerViewModel; onOpenThread?: (id: string) => void; inThread: boolean;
}) {
  const [reacting, setReacting] = useState(false);
  const time = format(tile.ts, "HH:mm");
  const canAct = !tile.pending && tile.kind !== "redacted";
  return (
    <li tabIndex={-1} class={`tile message ${tile.continuation ? "continuation" : ""} ${tile.mine ? "mine" : ""}`} data-event-id={tile.eventId}
      aria-label={`${tile.senderName} at ${time}`}>
      {!tile.continuation && (
        <div class="tile-sender">
          <Avatar name={tile.senderName} id={tile.sender} mxc={tile.avatarMxc} />
          <span class="sender-name">{tile.senderName}</span>
          <time dateTime={new Date(tile.ts).toISOString()}>{time}</time>
        </div>
      )}
      <div class="tile-content">
        {tile.replyTo && (
          <blockquote class="reply-quote" aria-label="In reply to">
            {tile.replyTo.sender && <strong>{tile.replyTo.sender}</strong>} {tile.replyTo.body}
          </blockquote>
        )}
        <Body tile={tile} />
        {tile.edited && tile.kind !== "redacted" && <span class="edited">(edited)</span>}
        {tile.pending && <span class="hint">Sending…</span>}
      </div>
      {tile.reactions.length > 0 && (
        <ul class="reactions" aria-label="Reactions">
          {tile.reactions.map((r) => (
            <li key={r.key}>
              <button type="button" class={r.mine ? "reaction mine" : "reaction"} aria-pressed={Boolean(r.mine)}
                aria-label={`${r.key} ${r.count}`} title={r.senders.join(", ")}
                onClick={() => void composer.react(tile.eventId, r.key, r.mine)}>
                {r.key} {r.count}
              </button>
            </li>
          ))}
        </ul>
      )}
      {tile.thread && onOpenThread && (
        <button type="button" class="thread-summary" onClick={() => onOpenThread(tile.eventId)}>
          {tile.thread.count} {tile.thread.count === 1 ? "reply" : "replies"} in thread
        </button>
      )}
      {tile.receipts.length > 0 && (
        <div class="receipts" role="img" aria-label={`Read by ${tile.receipts.join(", ")}`}>
          {tile.receipts.slice(0, 5).map((id) => <Avatar key={id} name={id} id={id} size={16} />)}
        </div>
      )}
      {canAct && (
        <div class="tile-actions" role="group" aria-label="Message actions">
          <button type="button" aria-expanded={reacting} onClick={() => setReacting(!reacting)}>React</button>
          <button type="button" onClick={() => composer.startReply(tile)}>Reply</button>
          {!inThread && onOpenThread && <button type="button" onClick={() => onOpenThread(tile.eventId)}>Reply in thread</button>}
          {tile.mine && tile.kind === "text" && <button type="button" onClick={() => composer.startEdit(tile)}>Edit</button>}
          {tile.mine && <button type="button" onClick={() => void composer.remove(tile.eventId)}>Delete</button>}
        </div>
      )}
      {reacting && (
        <div class="reaction-picker" role="group" aria-label="Choose a reaction">
          {QUICK_REACTIONS.map((e) => (
            <button type="button" key={e.unicode} aria-label={`React with ${e.label}`}
              onClick={() => { setReacting(false); void composer.react(tile.eventId, e.unicode, tile.reactions.find((r) => r.key === e.unicode)?.mine ?? null); }}>
              {e.unicode}
            </button>
          ))}
          <EmojiPicker label="More reactions" onPick={(emoji) => { setReacting(false); void composer.react(tile.eventId, emoji, null); }} />
        </div>
      )}
    </li>
  );
}
