"""The notifier's memory of whom notifications named, which lets an idle long-poll skip reading."""

from __future__ import annotations

from homeserver.services import notifier as notifier_module
from homeserver.services.notifier import Notifier


def _started(**positions: int) -> Notifier:
    notifier = Notifier()
    for stream, position in positions.items():
        notifier.advance(stream, position)
    notifier.start_tracking("events")
    return notifier


def test_nothing_is_known_before_tracking_starts():
    notifier = Notifier()
    notifier.notify("events", 3, ["@a:x"])
    assert not notifier.nothing_new_since("@a:x", {"events": 3})


def test_only_notifications_naming_the_user_count():
    notifier = _started(events=10, receipts=4)
    assert notifier.nothing_new_since("@a:x", {"events": 10, "receipts": 4})
    notifier.notify("events", 11, ["@b:x"])
    assert notifier.nothing_new_since("@a:x", {"events": 10, "receipts": 4})
    notifier.notify("receipts", 5, ["@a:x"])
    assert not notifier.nothing_new_since("@a:x", {"events": 11, "receipts": 4})
    assert notifier.nothing_new_since("@a:x", {"events": 11, "receipts": 5})


def test_tokens_from_before_startup_or_another_run_are_never_quiet():
    notifier = _started(events=10)
    assert not notifier.nothing_new_since("@a:x", {"events": 9})  # changes before startup are unknown
    assert not notifier.nothing_new_since("@a:x", {"events": 12})  # a position this run never reached


def test_forgotten_users_fall_back_to_the_floor(monkeypatch):
    monkeypatch.setattr(notifier_module, "USER_MARKS_SIZE", 2)
    notifier = _started(events=0)
    notifier.notify("events", 5, ["@a:x"])
    notifier.notify("events", 6, ["@b:x"])
    notifier.notify("events", 7, ["@c:x"])  # @a:x is forgotten; its mark becomes the floor
    assert not notifier.nothing_new_since("@a:x", {"events": 4})
    assert notifier.nothing_new_since("@a:x", {"events": 5})
    assert not notifier.nothing_new_since("@unknown:x", {"events": 4})
    assert not notifier.nothing_new_since("@c:x", {"events": 6})
