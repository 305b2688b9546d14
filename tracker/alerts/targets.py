"""Apprise URLs: validation, masking, the private-network guard, and sending one message."""

from __future__ import annotations

import logging
import re
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import apprise
from apprise import NotifyFormat, NotifyType
from apprise.manager_plugins import NotificationManager

from tracker.errors import UserError
from tracker.netguard import BlockedAddressError, check_host

# Schemas whose host is chosen by the user (self-hosted services, generic webhooks, SMTP):
# those hosts go through the private-network guard. Hosted services (slack://, discord://,
# tgram://, ...) always talk to their provider's public API.
GUARDED_SCHEMAS = {
    "json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos", "ntfy", "ntfys",
    "gotify", "gotifys", "mmost", "mmosts", "rocket", "rockets", "matrix", "matrixs",
    "apprise", "apprises", "mqtt", "mqtts", "hassio", "hassios", "nctalk", "nctalks",
    "ncloud", "nclouds", "kodi", "kodis", "xbmc", "xbmcs", "emby", "embys", "jellyfin",
    "jellyfins", "growl", "rsyslog", "syslog", "signal", "signals", "gnotify", "gnotifys",
    "misskey", "misskeys", "mastodon", "mastodons", "toot", "toots", "lametric", "lametrics",
}  # fmt: skip
# Query parameters that carry secrets apprise's privacy form leaves visible: custom
# headers (`+Header=`/`-Header=` on json/xml/form) and anything named like a credential.
_SECRET_PARAM = re.compile(
    r"([?&])((?:[+-]|%2B|%2D)[^=&]+|[^=&]*(?:token|key|secret|pass|auth|sig)[^=&]*)=([^&]*)",
    re.IGNORECASE,
)


_DEFAULT_PARAMS = {
    "overflow=upstream", "retry=0", "wait=0.5", "optional=no", "verify=yes", "rto=4.0",
    "cto=4.0", "method=POST",
}  # fmt: skip


@dataclass(frozen=True)
class Target:
    """A parsed apprise URL."""

    url: str
    plugin: apprise.NotifyBase

    @property
    def service(self) -> str:
        return str(getattr(self.plugin, "service_name", type(self.plugin).__name__))

    @property
    def masked(self) -> str:
        return mask(self.plugin)

    @property
    def body_format(self) -> NotifyFormat:
        """The format the target renders: Markdown for chat apps, HTML for email, else text."""
        supported = self.plugin.notify_format
        first = supported[0] if isinstance(supported, tuple) else supported
        return NotifyFormat(first)


def parse(url: str) -> Target:
    """A usable apprise URL, or UserError naming the problem in one line."""
    text = url.strip()
    if "://" not in text:
        raise UserError(
            f"invalid alert URL {shorten(text)!r}: expected an apprise URL such as "
            "slack://… or mailto://…"
        )
    plugin = apprise.Apprise.instantiate(text)
    if plugin is None:
        schema = text.split("://", 1)[0]
        if not _known_schema(schema):
            raise UserError(f"unsupported alert URL: apprise has no service for {schema}://")
        raise UserError(
            f"invalid {schema}:// URL: apprise cannot use it "
            "(check the address, tokens and options)"
        )
    return Target(text, plugin)


def _known_schema(schema: str) -> bool:
    return schema.lower() in NotificationManager().schemas()


def mask(plugin: apprise.NotifyBase) -> str:
    """Apprise's privacy form, with secret-bearing query parameters masked too.

    Apprise spells out every option, defaults included; those are left out for legibility.
    """
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}=****", plugin.url(privacy=True))
    base, _, query = text.partition("?")
    kept = [p for p in query.split("&") if p and p not in _DEFAULT_PARAMS]
    return base + ("?" + "&".join(kept) if kept else "")


def shorten(text: str, limit: int = 40) -> str:
    """A prefix of user input, safe to echo: never the part that may hold credentials."""
    head = text.split("://", 1)[0] + "://…" if "://" in text else text
    return head[:limit]


def guarded_hosts(target: Target) -> list[tuple[str, int]]:
    """The (host, port) pairs of a target that the private-network guard must check."""
    schema = urlsplit(target.url).scheme.lower()
    if schema not in GUARDED_SCHEMAS:
        return []
    plugin = target.plugin
    port = int(getattr(plugin, "port", None) or 0)
    hosts = [getattr(plugin, "smtp_host", None), getattr(plugin, "host", None)]
    return [(h, port or 80) for h in dict.fromkeys(h for h in hosts if h)]


def check_guard(target: Target) -> None:
    """BlockedAddressError if a user-chosen host of the target is private or local."""
    for host, port in guarded_hosts(target):
        try:
            check_host(host, port)
        except (socket.gaierror, UnicodeError):
            continue  # unresolvable now: the send fails on its own


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str | None = None


def send(
    target: Target, *, title: str, body: str, body_format: NotifyFormat, allow_private: bool
) -> Outcome:
    """Send one message to one target, in this thread; the error is apprise's own words."""
    if not allow_private:
        try:
            check_guard(target)
        except BlockedAddressError as exc:
            return Outcome(False, f"refused: {exc}")
    with _ThreadLogCapture() as captured:
        try:
            ok = target.plugin.notify(
                body=body, title=title, notify_type=NotifyType.INFO, body_format=body_format
            )
        except Exception as exc:  # a plugin bug must not take the sender down
            return Outcome(False, f"{type(exc).__name__}: {exc}"[:500])
    if ok:
        return Outcome(True)
    return Outcome(False, captured.summary() or "the service refused the message")


class _ThreadLogCapture(logging.Handler):
    """Collects apprise's warnings and errors logged by this thread only.

    Deliveries run on several threads at once; apprise reports why a send failed only
    through its logger, so each thread keeps to its own records.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())

    def summary(self) -> str:
        lines = [m.strip().splitlines()[0] for m in self.messages if m.strip()]
        return "; ".join(dict.fromkeys(lines))[:1000]

    def __enter__(self) -> _ThreadLogCapture:
        logging.getLogger("apprise").addHandler(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        logging.getLogger("apprise").removeHandler(self)
