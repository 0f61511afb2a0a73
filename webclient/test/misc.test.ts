import { describe, expect, it } from "vitest";
import { acceptableDecryptedState } from "../src/matrix/encryptedState";
import { renderMarkdown } from "../src/matrix/markdown";
import { filterSummaries, sortSummaries, type RoomSummary } from "../src/viewmodels/roomSummary";
import { highlight } from "../src/viewmodels/SearchViewModel";

const summary = (name: string, lastActivity: number, invite = false): RoomSummary => ({
  roomId: `!${name}:hs`, name, preview: "", lastActivity, unread: 0, mentions: 0, invite, inviter: null, direct: false, encrypted: true,
});

describe("room list order", () => {
  it("puts invitations first, then the latest activity", () => {
    const sorted = sortSummaries([summary("old", 1), summary("new", 3), summary("invite", 0, true), summary("mid", 2)]);
    expect(sorted.map((s) => s.name)).toEqual(["invite", "new", "mid", "old"]);
  });
  it("filters by name, ignoring case", () => {
    expect(filterSummaries([summary("Family", 1), summary("Work", 2)], "fam").map((s) => s.name)).toEqual(["Family"]);
  });
});

describe("MSC4362 packed state keys", () => {
  it("accepts a decrypted event matching its packed key", () => {
    expect(acceptableDecryptedState("m.room.name:", "m.room.name", "")).toBe(true);
    expect(acceptableDecryptedState("m.room.topic:", "m.room.name", "")).toBe(false);
  });
  it("never takes protocol-critical state from an encrypted event", () => {
    expect(acceptableDecryptedState("m.room.power_levels:", "m.room.power_levels", "")).toBe(false);
    expect(acceptableDecryptedState("m.room.member:@a:hs", "m.room.member", "@a:hs")).toBe(false);
  });
});

describe("composer Markdown", () => {
  it("sends plain text as plain text", () => {
    expect(renderMarkdown("hello there")).toEqual({ body: "hello there" });
  });
  it("sends formatting as HTML too", () => {
    const out = renderMarkdown("**bold** and `code`");
    expect(out.format).toBe("org.matrix.custom.html");
    expect(out.formatted_body).toBe("<strong>bold</strong> and <code>code</code>");
  });
});

describe("search highlights", () => {
  it("marks every match, ignoring case", () => {
    expect(highlight("Pizza and pizza", "pizza")).toEqual([
      { text: "Pizza", match: true }, { text: " and ", match: false }, { text: "pizza", match: true },
    ]);
  });
});

