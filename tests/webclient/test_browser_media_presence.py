"""What the other timeline tests leave out: attachments pasted into the composer with an
upload progress bar, audio and video playing inline, mention counts in the room list, and
presence as away and as offline with last seen."""

from __future__ import annotations

import asyncio
import io
import wave

from playwright.async_api import Browser, Page, Route, expect

from tests.webclient.helpers import messages, open_room
from tests.webclient.test_browser_timeline import _room_with_bob

V3 = "/_matrix/client/v3"


def _wav(seconds: float = 0.5) -> bytes:
    """A short silent WAV file, a format every Chromium plays."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * int(8000 * seconds))
    return out.getvalue()


async def _paste(page: Page, name: str, mimetype: str, data: bytes) -> None:
    """Paste a file into the composer, as a person pastes one copied from their desktop."""
    await page.get_by_role("textbox", name="Message").evaluate(
        """(el, [name, type, bytes]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(bytes)], name, { type }));
            el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
        }""",
        [name, mimetype, list(data)],
    )


async def test_pasted_audio_plays_inline_after_an_upload_with_progress(browser: Browser, page: Page, make_server) -> None:
    server = await make_server()
    alice = page
    bob = await _room_with_bob(browser, alice, server, encrypted=True, name="Voice notes")

    # Hold the upload so the progress bar can be seen, then let it through.
    release = asyncio.Event()

    async def held(route: Route) -> None:
        await release.wait()
        await route.continue_()

    await alice.route("**/_matrix/media/*/upload*", held)
    await _paste(alice, "note.wav", "audio/wav", _wav())
    await expect(alice.get_by_role("progressbar", name="Upload progress")).to_be_visible()
    await expect(alice.get_by_text("Uploading note.wav")).to_be_visible()
    release.set()
    await expect(alice.get_by_role("progressbar", name="Upload progress")).to_have_count(0)

    # Bob's browser decrypts it and plays it inline: the audio element loads real media.
    audio = messages(bob).locator('audio[aria-label="note.wav"]')
    await expect(audio).to_have_count(1)
    await expect(audio).to_have_attribute("controls", "")
    duration = await audio.evaluate(
        """a => new Promise((resolve, reject) => {
            if (a.readyState >= 1) return resolve(a.duration);
            a.addEventListener("loadedmetadata", () => resolve(a.duration), { once: true });
            a.addEventListener("error", () => reject(new Error("audio did not load")), { once: true });
        })"""
    )
    assert 0.4 < duration < 0.6

    # A video shows as an inline player too (the bytes here are not a playable film: the
    # element is what the test checks).
    await _paste(alice, "clip.webm", "video/webm", b"\x1a\x45\xdf\xa3 not really a film")
    await expect(messages(bob).locator('video[aria-label="clip.webm"]')).to_have_attribute("controls", "")
    await bob.context.close()


async def test_mention_counts_and_presence_away_and_offline(browser: Browser, page: Page, make_server) -> None:
    server = await make_server()
    alice = page
    bob = await _room_with_bob(browser, alice, server, encrypted=False, name="Planning")
    await bob.context.close()  # Bob's browser would keep saying he is online
    bob_api = await server.client.login("bob")
    room_id = (await bob_api.get(f"{V3}/joined_rooms")).body["joined_rooms"][0]

    # Alice looks elsewhere; Bob mentions her once among other messages.
    await alice.goto(server.url + "/#/")
    link = alice.get_by_role("navigation", name="Rooms").get_by_role("link", name="Planning", exact=True)
    for i, content in enumerate([
        {"msgtype": "m.text", "body": "plain news"},
        {"msgtype": "m.text", "body": "alice: can you look?", "m.mentions": {"user_ids": ["@alice:test.local"]}},
    ]):
        assert (await bob_api.put(f"{V3}/rooms/{room_id}/send/m.room.message/m{i}", content)).status == 200
    await expect(link).to_contain_text("2 unread")
    await expect(link).to_contain_text("1 mentions")

    # Presence beside Bob in the people list: away, then offline with when he was last seen.
    await open_room(alice, "Planning")
    await expect(link).not_to_contain_text("mentions")
    assert (await bob_api.put(f"{V3}/presence/@bob:test.local/status", {"presence": "unavailable"})).status == 200
    await alice.get_by_role("button", name="People").click()
    people = alice.get_by_role("complementary", name="People")
    await expect(people.get_by_role("img", name="Away")).to_have_count(1)
    assert (await bob_api.put(f"{V3}/presence/@bob:test.local/status", {"presence": "offline"})).status == 200
    await expect(people.get_by_role("img", name="Offline, last seen", exact=False)).to_have_count(1)
