"""Bulk steps that build many long-lived objects at once: a listing of 50,000 repos read
into repo states, 50,000 stored states decoded, detection over them.

While such a step runs, CPython's cyclic collector would make several full passes over
everything alive (each time the survivors grow by a quarter), costing more than the step
itself on a large author; none of them can free anything the step builds. The collector is
paused for the step and resumed after it; overlapping steps of several threads share one
pause, which ends with the last of them. Nothing else changes: garbage left meanwhile is
collected at the next pass.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_running = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic collector paused (if it was on)."""
    global _running, _resume
    with _lock:
        if _running == 0:
            _resume = gc.isenabled()
            gc.disable()
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _resume:
                gc.enable()
