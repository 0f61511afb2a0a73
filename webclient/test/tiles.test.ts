import { MatrixEvent } from "matrix-js-sdk";
import { describe, expect, it } from "vitest";
import { createTiles, type TileContext } from "../src/timeline/tilesFactory";
import type { MessageTile } from "../src/timeline/tiles/types";

let n = 0;
function message(sender: string, ts: number, content: Record<string, unknown>, type = "m.room.message") {
  return new MatrixEvent({ event_id: `$e${++n}`, type, sender, origin_server_ts: ts, room_id: "!r:hs", content });
}
function text(sender: string, ts: number, body: string, extra: Record<string, unknown> = {}) {
  return message(sender, ts, { msgtype: "m.text", body, ...extra });
}

const ctx = (over: Partial<TileContext> = {}): TileContext => ({
  myUserId: "@me:hs",
  memberName: (id) => id.slice(1, id.indexOf(":")),
  memberAvatar: () => null,
  reactions: () => [],
  receipts: () => [],
  findEvent: () => undefined,
  thread: () => null,
  clearedBefore: 0,
  fullyReadEventId: null,
  canPaginate: false,
  paginating: false,
  ...over,
});

const day1 = new Date(2026, 0, 5, 10, 0).getTime();
const day2 = new Date(2026, 0, 6, 9, 0).getTime();

describe("the tiles factory", () => {
  it("puts a date divider between days and groups one sender's close messages", () => {
    const events = [text("@a:hs", day1, "one"), text("@a:hs", day1 + 60_000, "two"), text("@b:hs", day1 + 120_000, "three"), text("@b:hs", day2, "four")];
    const tiles = createTiles(events, ctx(), new Date(2026, 5, 1));
    expect(tiles.map((t) => t.kind)).toEqual(["gap", "date", "text", "text", "text", "date", "text"]);
    const messages = tiles.filter((t): t is MessageTile => "sender" in t);
    expect(messages.map((m) => m.continuation)).toEqual([false, true, false, false]);
    expect(tiles[1]).toMatchObject({ kind: "date", label: "Monday, 5 January" });
  });

  it("chooses a tile kind for each message type", () => {
    const events = [
      message("@a:hs", day1, { msgtype: "m.image", body: "cat.png", url: "mxc://hs/cat", info: { mimetype: "image/png", w: 4, h: 3 } }),
      message("@a:hs", day1, { msgtype: "m.video", body: "v.mp4", file: { url: "mxc://hs/v", key: {}, iv: "", hashes: {}, v: "v2" } }),
      message("@a:hs", day1, { msgtype: "m.audio", body: "a.ogg", url: "mxc://hs/a" }),
      message("@a:hs", day1, { msgtype: "m.file", body: "doc.pdf", url: "mxc://hs/d" }),
      message("@a:hs", day1, { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "x" }, "m.room.encrypted"),
    ];
    const tiles = createTiles(events, ctx()).filter((t) => "sender" in t);
    expect(tiles.map((t) => t.kind)).toEqual(["image", "video", "audio", "file", "encrypted"]);
    expect((tiles[0] as any).media).toMatchObject({ mxc: "mxc://hs/cat", width: 4, height: 3, file: null });
    expect((tiles[1] as any).media.mxc).toBe("mxc://hs/v");
  });

  it("hides edits and reactions, sanitises HTML and shows replies", () => {
    const original = text("@a:hs", day1, "hello");
    const events = [
      original,
      message("@b:hs", day1 + 1, { "m.relates_to": { rel_type: "m.annotation", event_id: original.getId(), key: "👍" } }, "m.reaction"),
      text("@a:hs", day1 + 2, "* hi", { "m.new_content": { msgtype: "m.text", body: "hi" }, "m.relates_to": { rel_type: "m.replace", event_id: original.getId() } }),
      text("@b:hs", day1 + 3, "bold", { format: "org.matrix.custom.html", formatted_body: "<b>bold</b><script>alert(1)</script><img src=x onerror=alert(1)>", "m.relates_to": { "m.in_reply_to": { event_id: original.getId() } } }),
    ];
    const tiles = createTiles(events, ctx({ findEvent: (id) => events.find((e) => e.getId() === id) })).filter((t) => "sender" in t) as any[];
    expect(tiles).toHaveLength(2);
    expect(tiles[1].html).toBe("<b>bold</b>");
    expect(tiles[1].replyTo).toMatchObject({ sender: "a", body: "hello" });
  });

  it("leaves out what 'clear history for me' hid and marks the first unread", () => {
    const events = [text("@a:hs", day1, "old"), text("@a:hs", day1 + 10, "read"), text("@a:hs", day1 + 20, "new")];
    const tiles = createTiles(events, ctx({ clearedBefore: day1, fullyReadEventId: events[1]!.getId()! }));
    expect(tiles.filter((t) => "sender" in t).map((t) => (t as MessageTile).body)).toEqual(["read", "new"]);
    expect(tiles.map((t) => t.kind)).toEqual(["gap", "date", "text", "unreadMarker", "text"]);
  });

  it("announces membership and room changes", () => {
    const join = new MatrixEvent({ event_id: "$j", type: "m.room.member", state_key: "@b:hs", sender: "@b:hs", origin_server_ts: day1, room_id: "!r:hs", content: { membership: "join", displayname: "Bob" } });
    const name = new MatrixEvent({ event_id: "$n", type: "m.room.name", state_key: "", sender: "@a:hs", origin_server_ts: day1, room_id: "!r:hs", content: { name: "Plans" } });
    const tiles = createTiles([join, name], ctx());
    expect(tiles.filter((t) => t.kind === "announcement").map((t: any) => t.text)).toEqual(["Bob joined", "a named the room Plans"]);
  });
});
