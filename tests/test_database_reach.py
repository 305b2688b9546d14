"""A PostgreSQL host that does not answer: a command gives up after its connect timeout,
with one line and exit 2, and tries the host once (not once per read path)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracker.db import postgres_connect_args
from tracker.dbread import PG_CONNECT_TIMEOUT


class SilentServer:
    """Accepts TCP connections and never says a word (a host that hangs mid-handshake)."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.accepted = 0
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted += 1
            self.held.append(connection)

    def close(self) -> None:
        self.socket.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.mark.parametrize(
    "args", [["events", "--json", "--limit", "5"], ["sources", "list"], ["poll", "--json"]]
)
def test_an_unanswering_database_host_is_one_line_after_its_timeout(
    silent: SilentServer, tmp_path: Path, args: list[str]
) -> None:
    env = os.environ | {
        "TRACKER_HOME": str(tmp_path),
        "TRACKER_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{silent.port}/test?connect_timeout=1",
    }
    env.pop("TRACKER_TEST_DATABASE_URL", None)

    done = subprocess.run(
        [sys.executable, "-m", "tracker", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr == "tracker: error: cannot open the database: connection timeout expired\n"
    assert silent.accepted == 1


def test_a_connection_gives_up_unless_the_url_says_otherwise() -> None:
    assert postgres_connect_args({}) == {"connect_timeout": PG_CONNECT_TIMEOUT}
    assert postgres_connect_args({"connect_timeout": "3"}) == {}
