"""`tracker serve`: the web UI, the JSON API, the Atom feed and the webhook receiver."""

from __future__ import annotations

import errno
import socket
from typing import TYPE_CHECKING, Annotated

import typer

from tracker.cli.context import app_context
from tracker.cli.output import console
from tracker.errors import UserError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tracker.config import Settings

Host = Annotated[str, typer.Option("--host", help="Address to listen on.")]
Port = Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")]


def serve(ctx: typer.Context, host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """Serve the web UI and API (the event log, sources, subscriptions, openness)."""
    from tracker.web import create_app
    from tracker.web.auth import api_token

    state = app_context(ctx)
    listener = listening_socket(host, port)
    follow_port(state.settings, host, port)
    token, _new = api_token(state.settings)
    app = create_app(state.settings, db=state.db, token=token)
    announce_token(state.settings, token)
    console.print(f"release-tracker on {state.settings.public_url}/ (Ctrl-C stops)", markup=False)
    run_server(app, listener)


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, or UserError in one line (a taken port, a host that is
    not an address of this machine) before anything has started."""
    try:
        infos = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE | socket.AI_NUMERICSERV
        )
    except (socket.gaierror, UnicodeError):
        raise UserError(f"cannot listen on {host!r}: not an address of this machine") from None
    family, kind, proto, _name, address = infos[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            raise UserError(
                f"port {port} on {host} is taken by another program: stop it or use --port"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise UserError(f"cannot listen on {host}: not an address of this machine") from None
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return listener


def follow_port(settings: Settings, host: str, port: int) -> None:
    """Alert links and Atom links name where this server listens, unless
    TRACKER_PUBLIC_URL says otherwise."""
    if "public_url" in settings.model_fields_set:
        return
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    settings.public_url = f"http://{shown}:{port}"


def run_server(app: FastAPI, listener: socket.socket) -> None:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[listener])


def announce_token(settings: Settings, token: str) -> None:
    where = "TRACKER_API_TOKEN" if settings.api_token else f"{settings.home / 'api-token'}"
    console.print(f"API token (for writes, from {where}): {token}", markup=False)
