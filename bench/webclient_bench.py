"""The web client's benchmark (not a test): time from navigation to an interactive room
list for a user in 100 rooms, and the size of the shipped JavaScript (gzip; the Rust crypto
wasm counted apart).

``python -m bench.webclient_bench [--rooms 100] [--runs 5]`` starts Hearth (SQLite) on a free
loopback port, fills the user's rooms through the client API, signs in once in Debian's
Chromium (the first sign-in also sets up cross-signing and the key backup), then reloads the
page ``--runs`` times and measures until every room's entry in the "Rooms" navigation is
shown and the filter box takes input. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.client_bench import register
from bench.servers import start_hearth

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "webclient" / "dist"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def shipped_sizes() -> dict[str, int]:
    """Bytes of the built client: all JS, the JS loaded at start, CSS, and the wasm (gzip -9)."""
    assets = DIST / "assets"
    index = (DIST / "index.html").read_text()

    def gz(path: Path) -> int:
        return len(gzip.compress(path.read_bytes(), 9))

    js = sorted(assets.glob("*.js"))
    # The emoji data is a separate chunk loaded when a picker opens.
    lazy = [p for p in js if p.name.startswith("compact-")]
    return {
        "js_gzip_bytes": sum(gz(p) for p in js),
        "js_gzip_bytes_at_start": sum(gz(p) for p in js if p not in lazy),
        "js_bytes": sum(p.stat().st_size for p in js),
        "css_gzip_bytes": sum(gz(p) for p in assets.glob("*.css")),
        "wasm_gzip_bytes": sum(gz(p) for p in assets.glob("*.wasm")),
        "wasm_bytes": sum(p.stat().st_size for p in assets.glob("*.wasm")),
        "index_references_js": index.count(".js"),
    }


async def fill_rooms(url: str, rooms: int) -> str:
    async with aiohttp.ClientSession() as session:
        user = await register(session, url, "reader")
        friend = await register(session, url, "writer")

        async def one(i: int) -> None:
            created = await friend.call("POST", "/_matrix/client/v3/createRoom", {
                "preset": "public_chat", "name": f"Room {i:03d}"})
            room_id = created["room_id"]
            await user.call("POST", f"/_matrix/client/v3/join/{room_id}", {})
            await friend.send(room_id, f"Last message in room {i}")

        for start in range(0, rooms, 10):
            await asyncio.gather(*(one(i) for i in range(start, min(rooms, start + 10))))
    return "reader"


async def measure(url: str, username: str, rooms: int, runs: int) -> dict[str, float | list[float]]:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await (await browser.new_context()).new_page()
        started = time.perf_counter()
        await page.goto(url + "/")
        await page.get_by_role("textbox", name="Username").fill(username)
        await page.get_by_label("Password", exact=True).fill("bench password 123")
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("button", name="Continue").click(timeout=120_000)
        links = page.get_by_role("navigation", name="Rooms").get_by_role("link")
        await expect(links).to_have_count(rooms, timeout=120_000)
        first_sign_in = time.perf_counter() - started
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            await page.reload()
            await expect(links).to_have_count(rooms, timeout=120_000)
            await page.get_by_role("searchbox", name="Filter rooms").fill("Room 05")
            await expect(links).to_have_count(10, timeout=120_000)
            samples.append(time.perf_counter() - started)
            await page.get_by_role("searchbox", name="Filter rooms").fill("")
        nav = await page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])")
        await browser.close()
    timing = json.loads(nav)
    return {
        "first_sign_in_s": round(first_sign_in, 3),
        "reload_to_interactive_s_median": round(statistics.median(samples), 3),
        "reload_to_interactive_s": [round(s, 3) for s in samples],
        "dom_content_loaded_ms": round(timing.get("domContentLoadedEventEnd", 0), 1),
    }


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as workdir:
        server = await start_hearth(Path(workdir), "sqlite")
        try:
            username = await fill_rooms(server.url, args.rooms)
            figures = await measure(server.url, username, args.rooms, args.runs)
        finally:
            await server.stop()
    return {"benchmark": "webclient", "rooms": args.rooms, **figures, **shipped_sizes()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if not (DIST / "index.html").is_file():
        raise SystemExit("build the web client first: make webclient")
    print(json.dumps(asyncio.run(main_async(args))))


if __name__ == "__main__":
    main()
