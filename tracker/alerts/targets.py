"""Apprise URLs: validation, masking, the private-network guard, and sending one message.

The guard works at three points. When a subscription is added: options that make apprise
load a file or URL are refused, plugins the guard cannot cover are refused unless private
networks are allowed, and a host chosen in the URL must resolve to public addresses. When
a message is sent: the same checks again (the subscription may predate them), then the
send runs inside `guarded_scope()`, which checks every connection the plugin opens
(after its own DNS lookups, redirects and discovery) and follows no redirect.
"""

from __future__ import annotations

import html
import ipaddress
import logging
import re
import socket
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit

import apprise
from apprise import AppriseAttachment, NotifyFormat, NotifyType
from apprise.manager_plugins import NotificationManager

from tracker.alerts import schemas
from tracker.errors import UserError
from tracker.netguard import ALLOW_HINT, BlockedAddressError, check_host, is_public, literal_host
from tracker.socketguard import guarded_scope

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


# Services that render Markdown in what apprise sends them as plain text.
RENDERS_MARKDOWN = frozenset({"discord", "guilded", "fluxer", "mattermost", "zulip", "revolt"})
# Services that put the title into an HTML body (other HTML services make it a subject).
HTML_TITLE = frozenset({"telegram"})


@dataclass(frozen=True)
class Target:
    """A parsed apprise URL."""

    url: str
    plugin: apprise.NotifyBase

    @property
    def service(self) -> str:
        return str(getattr(self.plugin, "service_name", type(self.plugin).__name__))

    @property
    def schema(self) -> str:
        return urlsplit(self.url).scheme.lower()

    @property
    def masked(self) -> str:
        return mask(self.plugin)

    @property
    def native_format(self) -> NotifyFormat:
        """The format apprise sends in for this target (its first, or the URL's ?format=)."""
        supported = self.plugin.notify_format
        first = supported[0] if isinstance(supported, tuple) else supported
        return NotifyFormat(first)

    @property
    def body_format(self) -> NotifyFormat:
        """The format messages are rendered in: what the service actually renders.

        Mostly apprise's own, except for services that render Markdown in what apprise
        sends as plain text (Discord's `content`, Mattermost's `text`): those get
        escaped Markdown.
        """
        if schemas.family_name(self.plugin) in RENDERS_MARKDOWN:
            return NotifyFormat.MARKDOWN
        return self.native_format


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
    return mask_path(base) + ("?" + "&".join(kept) if kept else "")


# Path segments that name a place rather than a secret: short lowercase words, API
# versions, channels and users, and what apprise already shortened to `x...y`.
_PLAIN_SEGMENT = re.compile(r"[a-z][a-z_-]{0,19}|v\d{1,2}|(?:#|%23|@|%40)[^/]*|[^/]?\.\.\.[^/]?")
# After one of these, every segment of a webhook path is a credential.
_SECRET_MARKERS = {
    "hook", "hooks", "webhook", "webhooks", "catch", "services", "trigger", "triggers",
    "incoming", "token", "tokens", "key", "keys", "secret", "bot",
}  # fmt: skip


def mask_path(url: str) -> str:
    """A URL (without query) whose path segments that may be credentials read `****`.

    Generic webhooks carry their secret in the path (`json://host/hooks/catch/123/abc`),
    which apprise's privacy form leaves as is.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or "/" not in rest:
        return url
    authority, _, path = rest.partition("/")
    shown: list[str] = []
    secret_follows = False
    for segment in path.split("/"):
        if segment and (secret_follows or not _PLAIN_SEGMENT.fullmatch(segment)):
            shown.append("****")
        else:
            shown.append(segment)
        secret_follows = secret_follows or segment.lower() in _SECRET_MARKERS
    return f"{scheme}://{authority}/" + "/".join(shown)


def shorten(text: str, limit: int = 40) -> str:
    """A prefix of user input, safe to echo: never the part that may hold credentials."""
    head = text.split("://", 1)[0] + "://…" if "://" in text else text
    return head[:limit]


# Options whose value apprise loads as a file or URL when it sends (key files, PGP keys).
# Options that hold an AppriseAttachment (`template=` of Discord, Slack, Telegram and
# Workflows, `keyfile=` of FCM) are found on the plugin itself.
RESOURCE_OPTIONS = ("keyfile", "subfile", "pgppub", "pgpprv")


def resource_options(target: Target) -> list[str]:
    """The options of a target that make apprise fetch a file or URL."""
    found = [
        name
        for name, value in vars(target.plugin).items()
        if isinstance(value, AppriseAttachment) and len(value)
    ]
    query = urlsplit(target.url).query
    found += [
        name for name in RESOURCE_OPTIONS if re.search(rf"(?:^|&){name}=[^&]", query, re.IGNORECASE)
    ]
    return list(dict.fromkeys(n.lstrip("_") for n in found))


def check_policy(target: Target, *, allow_private: bool) -> None:
    """BlockedAddressError when the target may not be used at all (before any connection)."""
    options = resource_options(target)
    if options:
        shown = ", ".join(f"{name}=" for name in options)
        raise BlockedAddressError(
            f"{shown} makes apprise load a file or URL; alert targets may not"
        )
    if not allow_private:
        reason = schemas.unguarded_reason(target.plugin, target.schema)
        if reason:
            raise BlockedAddressError(reason)


def declared_hosts(target: Target) -> list[tuple[str, int, bool]]:
    """(host, port, must_resolve) of the hosts the URL names as connection targets.

    A plugin whose every URL form names a host (webhooks, self-hosted servers) connects to
    that host: it must resolve. Other plugins may put a token where the host goes
    (`ntfy://topic`), so only an address literal there is checked; the connect-time guard
    covers the rest.
    """
    plugin = target.plugin
    port = int(getattr(plugin, "port", None) or 0) or 80
    found: list[tuple[str, int, bool]] = []
    smtp_host = getattr(plugin, "smtp_host", None)
    if isinstance(smtp_host, str) and smtp_host:
        found.append((smtp_host, port, True))
    host = getattr(plugin, "host", None)
    if isinstance(host, str) and host:
        forms = getattr(plugin, "templates", ()) or ()
        named = bool(forms) and all("{host}" in form for form in forms)
        found.append((host, port, named or getattr(plugin, "mode", None) == "private"))
    return list(dict.fromkeys(found))


def check_guard(target: Target) -> None:
    """BlockedAddressError if a host the URL names is private or local, or cannot be checked."""
    check_policy(target, allow_private=False)
    for host, port, must_resolve in declared_hosts(target):
        literal = literal_host(host)
        if _is_ip(literal):
            if not is_public(literal):
                raise BlockedAddressError(f"{literal} is a private or local address; {ALLOW_HINT}")
            continue
        if not must_resolve:
            continue
        try:
            check_host(literal, port)
        except (socket.gaierror, UnicodeError) as exc:
            # Fail closed: a host that cannot be checked now is not accepted.
            detail = getattr(exc, "strerror", None) or str(exc)
            raise BlockedAddressError(
                f"cannot resolve {literal} ({detail}) to check that it is public; {ALLOW_HINT}"
            ) from None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str | None = None


def send(
    target: Target, *, title: str, body: str, body_format: NotifyFormat, allow_private: bool
) -> Outcome:
    """Send one message to one target, in this thread; the error is apprise's own words."""
    try:
        check_policy(target, allow_private=allow_private)
    except BlockedAddressError as exc:
        return Outcome(False, f"refused: {exc}")
    if body_format == target.body_format:
        # The body already speaks the service's dialect: apprise passes it through.
        body_format = target.native_format
    if body_format == NotifyFormat.HTML and schemas.family_name(target.plugin) in HTML_TITLE:
        title = html.escape(title, quote=False)
    refused: list[str] = []
    with _ThreadLogCapture() as captured, ExitStack() as stack:
        if not allow_private:
            refused = stack.enter_context(guarded_scope()).refused
        try:
            ok = target.plugin.notify(
                body=body, title=title, notify_type=NotifyType.INFO, body_format=body_format
            )
        except Exception as exc:  # a plugin bug must not take the sender down
            ok = False
            captured.messages.append(f"{type(exc).__name__}: {exc}")
    if ok:
        return Outcome(True)
    if refused:
        return Outcome(False, ("refused: " + "; ".join(refused))[:1000])
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
