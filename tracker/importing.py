"""Importing a watch list (TOML or OPML): check every source, add the new ones at once.

A reader's OPML export can hold hundreds of feeds, often each on a host of its own. The
private-network guard resolves each host, so the hosts are checked once each, concurrently
(LOOKUPS_AT_ONCE, within LOOKUP_DEADLINE_SECONDS all told), and only for sources that are
not watched yet: re-importing the same file makes no lookups at all. What is watched is read
in one query, and the new sources are stored in one transaction, one batched insert.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

from tracker import catalog
from tracker.catalog import SourceSpec
from tracker.config import Settings
from tracker.db import Database
from tracker.errors import UserError
from tracker.models import SourcePublic
from tracker.netguard import BlockedAddressError, check_host

# Host lookups in flight at once: lookups wait on the network, not on this machine.
LOOKUPS_AT_ONCE = 64
# All of an import's lookups together; a host not answered by then passes (see check_hosts).
LOOKUP_DEADLINE_SECONDS = 10.0

Identity = tuple[str, str, str | None, str | None]
Progress = Callable[[int, int], None]
"""Told (hosts checked so far, hosts to check) as the checks land."""


@dataclass
class ImportOutcome:
    added: list[SourcePublic]
    existing: list[int]
    hosts_checked: int
    hosts_unanswered: int = 0


def import_specs(
    db: Database,
    specs: Sequence[SourceSpec],
    *,
    where: str,
    progress: Progress | None = None,
) -> ImportOutcome:
    """Check the specs (UserError naming the first bad one, and nothing is stored), then
    add those not watched yet in one transaction.

    The database is asked twice (what is watched, before the checks and again inside the
    write) and the new sources go out in one batched insert; an import with nothing new
    takes no write lock and looks up no host.
    """
    settings = db.settings
    # Everything but the address check first: no network, and a typo fails at once.
    offline = settings.model_copy(update={"allow_private_networks": True})
    numbered: dict[Identity, tuple[int, SourceSpec]] = {}
    for n, spec in enumerate(specs, 1):
        normal = _checked(n, spec, offline, where)
        numbered.setdefault(catalog.identity(normal), (n, normal))
    with db.read() as session:
        watched = catalog.watched(session)
    new = [spec for key, (_, spec) in numbered.items() if key not in watched]
    if not new:
        return ImportOutcome([], [watched[key] for key in numbered], 0)
    hosts = [] if settings.allow_private_networks else _hosts(new)
    checks = check_hosts(hosts, progress=progress)
    for spec in new:
        host = _host_of(spec)
        problem = checks.refused.get(host) if host else None
        if problem:
            n, _ = numbered[catalog.identity(spec)]
            raise UserError(
                f"{where}: source {n} ({spec.target}): refused {spec.target}: {problem}"
            )
    with db.session() as session:
        # Asked again inside the write: another client may have added some meanwhile.
        watched = catalog.watched(session)
        fresh = [spec for key, (_, spec) in numbered.items() if key not in watched]
        added = catalog.add_all(session, fresh)
    existing = [watched[key] for key in numbered if key in watched]
    return ImportOutcome(added, existing, len(hosts), checks.unanswered)


@dataclass
class HostChecks:
    refused: dict[tuple[str, int], str]  # the reason of each
    unanswered: int  # lookups still out at the deadline: they passed


def check_hosts(
    hosts: Sequence[tuple[str, int]],
    *,
    progress: Progress | None = None,
    deadline: float | None = None,
) -> HostChecks:
    """Each (host, port) checked once, concurrently: the refused ones with the reason.

    A host that cannot be resolved now passes, and so does one whose lookup has not come
    back after `deadline` seconds (LOOKUP_DEADLINE_SECONDS), for all of them together:
    every fetch checks again when it connects, so a resolver that hangs slows an import
    down by that much at most.
    """
    refused: dict[tuple[str, int], str] = {}
    if progress:
        progress(0, len(hosts))
    if not hosts:
        return HostChecks(refused, 0)

    def check(host: tuple[str, int]) -> tuple[tuple[str, int], str | None]:
        try:
            check_host(*host)
        except BlockedAddressError as exc:
            return host, str(exc)
        except (socket.gaierror, UnicodeError, OSError):
            return host, None
        return host, None

    done = 0
    pool = ThreadPoolExecutor(min(LOOKUPS_AT_ONCE, len(hosts)), "host-check")
    try:
        futures = [pool.submit(check, host) for host in hosts]
        wait = LOOKUP_DEADLINE_SECONDS if deadline is None else deadline
        for future in as_completed(futures, timeout=wait):
            host, problem = future.result()
            if problem:
                refused[host] = problem
            done += 1
            if progress:
                progress(done, len(hosts))
    except FuturesTimeout:
        pass
    finally:
        # Lookups not started are dropped; those under way are not waited for here.
        pool.shutdown(wait=False, cancel_futures=True)
    return HostChecks(refused, len(hosts) - done)


def _checked(n: int, spec: SourceSpec, settings: Settings, where: str) -> SourceSpec:
    try:
        return catalog.checked(spec, settings)
    except UserError as exc:
        raise UserError(f"{where}: source {n} ({spec.target}): {exc}") from None


def _host_of(spec: SourceSpec) -> tuple[str, int] | None:
    if spec.kind not in ("feed", "page"):
        return None  # Hub sources talk to HF_ENDPOINT only
    parts = urlsplit(spec.target)
    if not parts.hostname:
        return None
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def _hosts(specs: Sequence[SourceSpec]) -> list[tuple[str, int]]:
    return list(dict.fromkeys(h for h in map(_host_of, specs) if h is not None))
