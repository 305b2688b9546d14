"""The cyclic collector and the objects a command keeps until it ends.

A command that polls imports some 850 modules (SQLAlchemy, pydantic, httpx, the poll path):
about 90,000 objects, alive as long as the process. CPython's cyclic collector walks every
one of them on each full pass, and it makes several: while they are imported (each time
the survivors grow by a quarter), during a poll that allocates as it goes (every pass
holds the GIL, so the fetching threads wait), and again while the interpreter finalizes
at exit (about 0.3 s after `tracker poll` on this machine). None of those passes can free
any of them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def kept() -> Iterator[None]:
    """Run the block with what exists now (the imported modules, the settings, the engine,
    the loaded sources) left out of the collector's passes; it is handed back after the
    block. What the block creates is collected as usual."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def exiting() -> None:
    """The process ends now: its last objects are left to the operating system rather than
    to the collector's passes of the finalization. Atexit handlers still run, the
    standard streams are flushed and modules are torn down (objects freed by reference
    counting run their cleanup as before); only garbage in reference cycles is not looked
    for, which exit frees anyway."""
    gc.freeze()
