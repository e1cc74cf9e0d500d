"""The watchdog that enforces the client-side submit budget."""

from __future__ import annotations

import threading

from bakeoff.router.guard import Watchdog


def test_an_overdue_call_fires_its_callback_and_disarm_reports_it() -> None:
    """A call not disarmed before its deadline gets its callback run, and disarm says so."""
    watchdog = Watchdog()
    fired = threading.Event()
    try:
        token = watchdog.arm(0.05, fired.set)
        assert fired.wait(timeout=10)
        assert watchdog.disarm(token) is True
    finally:
        watchdog.close()


def test_a_call_disarmed_in_time_never_fires() -> None:
    """Disarming before the deadline cancels the callback (checked after a later call fired)."""
    watchdog = Watchdog()
    early, late = threading.Event(), threading.Event()
    try:
        token = watchdog.arm(0.05, early.set)
        assert watchdog.disarm(token) is False
        later = watchdog.arm(0.1, late.set)
        assert late.wait(timeout=10)
        watchdog.disarm(later)
        assert not early.is_set()
    finally:
        watchdog.close()


def test_a_failing_callback_does_not_stop_the_watchdog() -> None:
    """A callback that raises is logged; later deadlines still fire."""
    watchdog = Watchdog()
    fired = threading.Event()

    def boom() -> None:
        raise RuntimeError("boom")

    try:
        first = watchdog.arm(0.01, boom)
        second = watchdog.arm(0.05, fired.set)
        assert fired.wait(timeout=10)
        assert watchdog.disarm(first) and watchdog.disarm(second)
    finally:
        watchdog.close()
