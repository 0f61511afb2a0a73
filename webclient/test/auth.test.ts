import { describe, expect, it } from "vitest";
import { chooseFlow, readUia, register } from "../src/matrix/auth";
import { discoverHomeserver, DiscoveryError } from "../src/matrix/discovery";

function uiaError(data: Record<string, unknown>) {
  return Object.assign(new Error("401"), { httpStatus: 401, data });
}

describe("discovery", () => {
  const wellKnown = (base: string | null, state = "SUCCESS") => ({
    findClientConfig: async () => ({ "m.homeserver": { state, base_url: base } }),
  });
  it("uses the page origin when no server is named", async () => {
    expect(await discoverHomeserver("  ", "http://127.0.0.1:8008", wellKnown(null))).toBe("http://127.0.0.1:8008");
  });
  it("takes a URL as it is", async () => {
    expect(await discoverHomeserver("https://matrix.example.org/", "http://x", wellKnown(null))).toBe("https://matrix.example.org");
  });
  it("follows /.well-known/matrix/client for a server name", async () => {
    expect(await discoverHomeserver("example.org", "http://x", wellKnown("https://hs.example.org/"))).toBe("https://hs.example.org");
  });
  it("falls back to the name itself when there is no well-known", async () => {
    expect(await discoverHomeserver("example.org", "http://x", wellKnown(null, "IGNORE"))).toBe("https://example.org");
  });
  it("refuses what is not a server name", async () => {
    await expect(discoverHomeserver("not a server", "http://x", wellKnown(null))).rejects.toBeInstanceOf(DiscoveryError);
  });
  it("reports a broken well-known", async () => {
    await expect(discoverHomeserver("example.org", "http://x", wellKnown(null, "FAIL_ERROR"))).rejects.toBeInstanceOf(DiscoveryError);
  });
});

describe("user-interactive auth", () => {
  it("reads the flows of a 401", () => {
    const uia = readUia(uiaError({ session: "s", flows: [{ stages: ["m.login.registration_token"] }], completed: [] }));
    expect(uia).toEqual({ session: "s", flows: [{ stages: ["m.login.registration_token"] }], completed: [] });
    expect(readUia(new Error("other"))).toBeNull();
  });
  it("chooses a flow it can do", () => {
    const uia = { flows: [{ stages: ["m.login.email.identity"] }, { stages: ["m.login.registration_token"] }, { stages: ["m.login.dummy"] }], completed: [] };
    expect(chooseFlow(uia, true)).toEqual(["m.login.registration_token"]);
    expect(chooseFlow(uia, false)).toEqual(["m.login.dummy"]);
    expect(chooseFlow({ flows: [{ stages: ["m.login.registration_token"] }], completed: [] }, false)).toBeNull();
  });

  it("registers through the token stage", async () => {
    const bodies: Record<string, any>[] = [];
    const client = {
      registerRequest: async (body: Record<string, any>) => {
        bodies.push(body);
        if (!body.auth) throw uiaError({ session: "abc", flows: [{ stages: ["m.login.registration_token"] }] });
        if (body.auth.token !== "tok") throw uiaError({ session: "abc", flows: [{ stages: ["m.login.registration_token"] }], errcode: "M_FORBIDDEN", error: "bad" });
        return { user_id: "@a:hs", device_id: "D", access_token: "T" };
      },
    };
    const session = await register(client as never, "http://hs", { username: "a", password: "p", token: "tok" });
    expect(session).toEqual({ homeserverUrl: "http://hs", userId: "@a:hs", deviceId: "D", accessToken: "T" });
    expect(bodies[1]!.auth).toEqual({ type: "m.login.registration_token", token: "tok", session: "abc" });
    await expect(register(client as never, "http://hs", { username: "a", password: "p", token: "wrong" })).rejects.toThrow("That registration token is not valid");
    await expect(register(client as never, "http://hs", { username: "a", password: "p" })).rejects.toThrow("Registration needs a registration token");
  });
});
