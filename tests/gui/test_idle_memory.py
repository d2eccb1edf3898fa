"""The window gives the model's working memory back once, after a quiet time, never mid-work."""

from __future__ import annotations

from lookalike.gui import idle_memory
from lookalike.gui.idle_memory import IdleMemory
from lookalike.gui.main_window import MainWindow


def _watch_releases(window: MainWindow, monkeypatch, interval_ms: int) -> tuple[IdleMemory, list]:
    """A fresh IdleMemory on the window's runners with a short quiet time, counting releases."""
    calls: list[int] = []
    monkeypatch.setattr(idle_memory, "IDLE_RELEASE_MS", interval_ms)
    monkeypatch.setattr(window.library, "release_memory", lambda: calls.append(1))
    idle = IdleMemory(window.library, window.runner, window.sync, window.watch_bridge, window)
    return idle, calls


def test_a_finished_library_call_schedules_one_release(window, qtbot, monkeypatch):
    idle, calls = _watch_releases(window, monkeypatch, 100)
    assert not idle.pending
    with qtbot.waitSignal(window.runner.finished, timeout=5000):
        window.runner.submit(window.library.status, lambda _s: None, lambda _f: None)
    assert idle.pending
    qtbot.waitUntil(lambda: calls == [1], timeout=5000)
    qtbot.wait(400)  # its own release call does not schedule another one
    assert calls == [1] and not idle.pending


def test_work_keeps_postponing_the_release(window, qtbot, monkeypatch):
    idle, calls = _watch_releases(window, monkeypatch, 300)
    for _ in range(5):  # a library call every 100 ms: never quiet for 300 ms
        window.runner.submit(window.library.status, lambda _s: None, lambda _f: None)
        qtbot.wait(100)
        assert calls == [] and idle.pending
    qtbot.waitUntil(lambda: calls == [1], timeout=5000)
