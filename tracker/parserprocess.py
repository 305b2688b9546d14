"""The fork-server context of the parser processes (`tracker.clients`). A module of its own
and light: a child unpickles its process object by this module's name, so whatever this
module imports, every parser process imports."""

from __future__ import annotations

import io
import os
from multiprocessing import context, forkserver, popen_forkserver, reduction, spawn, util
from typing import Any


class ParserPopen(popen_forkserver.Popen):
    """A fork-server child that is not told the main module's name or path: multiprocessing
    would run the main script again in each child (as `__mp_main__`), and the `tracker`
    script's one import is the whole command line, SQLAlchemy and pydantic included. The
    parsers are called by their module's name and need nothing from `__main__`."""

    def _launch(self, process_obj: Any) -> None:
        data = spawn.get_preparation_data(process_obj._name)
        data.pop("init_main_from_name", None)
        data.pop("init_main_from_path", None)
        buffer = io.BytesIO()
        context.set_spawning_popen(self)
        try:
            reduction.dump(data, buffer)
            reduction.dump(process_obj, buffer)
        finally:
            context.set_spawning_popen(None)
        self.sentinel, writer = forkserver.connect_to_new_process(self._fds)  # type: ignore[attr-defined]
        # The child watches a duplicate of the data pipe's write end to tell its parent gone.
        parent_end = os.dup(writer)
        self.finalizer = util.Finalize(
            self,
            util.close_fds,  # type: ignore[attr-defined]
            (parent_end, self.sentinel),
        )
        with open(writer, "wb", closefd=True) as pipe:
            pipe.write(buffer.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class ParserProcess(context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> ParserPopen:
        return ParserPopen(process_obj)


class ParserContext(context.ForkServerContext):
    Process = ParserProcess
