"""Importing a watch list (TOML or OPML): check every source, add the new ones at once.

A reader's OPML export can hold hundreds of feeds on a few dozen hosts. The private-network
guard resolves each host, so the hosts are checked once each, concurrently, and only for
sources that are not watched yet: re-importing the same file makes no lookups at all.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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
LOOKUPS_AT_ONCE = 32

Progress = Callable[[int, int], None]
"""Told (hosts checked so far, hosts to check) as the checks land."""


@dataclass
class ImportOutcome:
    added: list[SourcePublic]
    existing: list[int]
    hosts_checked: int


def import_specs(
    db: Database,
    specs: Sequence[SourceSpec],
    *,
    where: str,
    progress: Progress | None = None,
) -> ImportOutcome:
    """Check the specs (UserError naming the first bad one, and nothing is stored), then
    add those not watched yet in one transaction."""
    settings = db.settings
    # Everything but the address check first: no network, and a typo fails at once.
    offline = settings.model_copy(update={"allow_private_networks": True})
    normalised = [_checked(n, spec, offline, where) for n, spec in enumerate(specs, 1)]
    numbered = {catalog.identity(spec): n for n, spec in reversed(list(enumerate(normalised, 1)))}
    unique = list({catalog.identity(spec): spec for spec in reversed(normalised)}.values())
    unique.reverse()
    with db.read() as session:
        new = [spec for spec in unique if catalog.find(session, spec) is None]
    hosts = [] if settings.allow_private_networks else _hosts(new)
    refused = check_hosts(hosts, progress=progress)
    for spec in new:
        host = _host_of(spec)
        problem = refused.get(host) if host else None
        if problem:
            n = numbered[catalog.identity(spec)]
            raise UserError(
                f"{where}: source {n} ({spec.target}): refused {spec.target}: {problem}"
            )
    added, existing = [], []
    with db.session() as session:
        for spec in unique:
            found = catalog.find(session, spec)
            if found is not None and found.id is not None:
                existing.append(found.id)
            else:
                added.append(SourcePublic.of(catalog.add(session, spec)))
    return ImportOutcome(added, existing, len(hosts))


def check_hosts(
    hosts: Sequence[tuple[str, int]], *, progress: Progress | None = None
) -> dict[tuple[str, int], str]:
    """Each (host, port) checked once, concurrently: the refused ones with the reason.
    A host that cannot be resolved now passes (every fetch checks again when it connects)."""
    refused: dict[tuple[str, int], str] = {}
    if progress:
        progress(0, len(hosts))
    if not hosts:
        return refused

    def check(host: tuple[str, int]) -> tuple[tuple[str, int], str | None]:
        try:
            check_host(*host)
        except BlockedAddressError as exc:
            return host, str(exc)
        except (socket.gaierror, UnicodeError, OSError):
            return host, None
        return host, None

    with ThreadPoolExecutor(min(LOOKUPS_AT_ONCE, len(hosts)), "host-check") as pool:
        for done, (host, problem) in enumerate(pool.map(check, hosts), 1):
            if problem:
                refused[host] = problem
            if progress:
                progress(done, len(hosts))
    return refused


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
