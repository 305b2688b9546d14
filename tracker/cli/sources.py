"""`tracker sources ...`: add, list, remove, import and export what is watched."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tracker.cli.context import AppContext, app_context
from tracker.cli.output import ago, console, errors, print_json
from tracker.durations import format_duration, parse_interval
from tracker.errors import UserError
from tracker.ids import MAX_ID

if TYPE_CHECKING:
    from tracker.catalog import SourceSpec
    from tracker.config import Settings
    from tracker.importing import Progress
    from tracker.models import SourcePublic

# The commands import the catalog (SQLModel) when they run: `sources list` and the help
# pages read no table model.

app = typer.Typer(
    help="Add, list, remove, import and export watched sources.", no_args_is_help=True
)
add_app = typer.Typer(
    help="Watch a Hub author or repo, a feed, a page or PDF, or an arXiv search.",
    no_args_is_help=True,
)
app.add_typer(add_app, name="add")

LISTING_WIDTH = 100
Every = Annotated[str | None, typer.Option("--every", help="Poll interval: 30s, 15m, 1h, 1d.")]
Name = Annotated[str | None, typer.Option("--name", help="A display name.")]
Json = Annotated[bool, typer.Option("--json", help="Print the source as JSON.")]


def _add(ctx: typer.Context, spec: SourceSpec, as_json: bool, *, check: bool = False) -> None:
    from rich.markup import escape

    from tracker import catalog
    from tracker.models import SourcePublic

    state = app_context(ctx)
    spec = catalog.checked(spec, state.settings)
    if check and spec.kind == "hub":
        spec = _ask_the_hub(spec, state.settings)
    with state.db.session() as session:
        source = catalog.add(session, spec)
        public = SourcePublic.of(source)
    if as_json:
        print_json(public)
    else:
        console.print(
            f"Added source {public.id}: {public.kind} {escape(public.target)}, "
            f"every {format_duration(public.every_seconds)}. "
            "The first poll records what exists; later polls report what changes."
        )


def _ask_the_hub(spec: SourceSpec, settings: Settings) -> SourceSpec:
    """The spec as the Hub spells its target; a warning on stderr for what looks like a
    typo; UserError for a repo of another type. Nothing is said when the Hub cannot be
    asked (offline): the source is added as given."""
    from rich.markup import escape

    from tracker.errors import FetchError
    from tracker.sources import hub
    from tracker.sources.hubclient import HubClient

    quick = settings.model_copy(
        update={"http_timeout_seconds": min(settings.http_timeout_seconds, 10)}
    )
    target = hub.parse_target(spec.target, spec.types)
    try:
        found, warning = hub.probe(target, HubClient(quick))
    except FetchError:
        return spec
    if warning:
        errors.print(f"warning: {escape(warning)}")
    return replace(spec, target=found.repo_id or found.owner)


@add_app.command("hub")
def add_hub(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(metavar="AUTHOR|OWNER/REPO", help="A user or org, or one repo.")
    ],
    types: Annotated[
        str | None,
        typer.Option(
            "--types",
            help="Repo types, comma-separated: model, dataset, space "
            "(an author: model,dataset; one repo: model).",
        ),
    ] = None,
    every: Every = None,
    name: Name = None,
    as_json: Json = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check",
            help="Ask the Hub whether the repo or author exists (warns of a typo).",
        ),
    ] = True,
) -> None:
    """Watch a Hub author's repos, or one repo: releases, gating, licenses, withdrawals."""
    from tracker.catalog import SourceSpec

    every_seconds = parse_interval(every) if every else None
    _add(ctx, SourceSpec("hub", target, name, every_seconds, types=types), as_json, check=check)


@add_app.command("feed")
def add_feed(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The feed's URL (RSS, Atom or RDF).")],
    every: Every = None,
    name: Name = None,
    as_json: Json = False,
) -> None:
    """Watch an RSS, Atom or RDF feed: each new entry becomes a post.published event."""
    from tracker.catalog import SourceSpec

    every_seconds = parse_interval(every) if every else None
    _add(ctx, SourceSpec("feed", url, name, every_seconds), as_json)


@add_app.command("page")
def add_page(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The page's (or a PDF document's) URL.")],
    links: Annotated[
        str | None,
        typer.Option(
            "--links",
            metavar="CSS_SELECTOR",
            help="Treat each new link matching this selector as a post (a blog without a feed).",
        ),
    ] = None,
    every: Every = None,
    name: Name = None,
    as_json: Json = False,
) -> None:
    """Watch a page: its main text (policy pages, PDF reports), or new links matching --links
    (lab blogs)."""
    from tracker.catalog import SourceSpec

    every_seconds = parse_interval(every) if every else None
    _add(ctx, SourceSpec("page", url, name, every_seconds, links=links), as_json)


@add_app.command("arxiv")
def add_arxiv(
    ctx: typer.Context,
    query: Annotated[
        str,
        typer.Argument(
            metavar="QUERY",
            help="An arXiv API search query: au:NAME, ti:WORDS, abs:WORDS, cat:cs.CL, "
            "combined with AND, OR, ANDNOT (e.g. 'au:smith AND abs:\"open weights\"').",
        ),
    ],
    every: Every = None,
    name: Name = None,
    as_json: Json = False,
) -> None:
    """Watch an arXiv search: each new matching paper becomes a post.published event."""
    from tracker.catalog import SourceSpec

    every_seconds = parse_interval(every) if every else None
    _add(ctx, SourceSpec("arxiv", query, name, every_seconds), as_json)


@app.command("list")
def list_sources(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List watched sources and their health."""
    state = app_context(ctx)
    with state.reading() as reader:
        sources = reader.all_sources()
    if as_json:
        print_json([s.public() for s in sources])
        return
    if not sources:
        console.print("No sources yet. Add one with `tracker sources add feed URL`.")
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("ID", "KIND", "NAME / TARGET", "EVERY", "LAST POLL", "STATUS"):
        wide = column in ("NAME / TARGET", "STATUS")
        table.add_column(column, overflow="fold" if wide else "ellipsis", no_wrap=not wide)
    for s in sources:
        label = escape(s.name or s.target) + ("" if not s.name else f"\n[dim]{escape(s.target)}[/]")
        if s.last_error:
            status = f"[red]failing, {s.consecutive_failures} in a row[/]: {escape(s.last_error)}"
        elif s.last_polled_at is None:
            status = "[dim]not polled yet[/]"
        else:
            status = "[green]ok[/]"
        if not s.enabled:
            status = "[dim]disabled[/] " + status
        kind = f"{s.kind} ({','.join(s.types)})" if s.types else s.kind
        table.add_row(
            str(s.id),
            kind,
            label,
            format_duration(s.every_seconds),
            ago(s.last_polled_at),
            status,
        )
    # Piped, the table still fits a 100-column page; long targets and errors fold.
    console.print(table, width=None if console.is_terminal else LISTING_WIDTH)


@app.command("remove")
def remove_source(
    ctx: typer.Context,
    source_id: Annotated[
        int, typer.Argument(metavar="ID", min=1, max=MAX_ID, help="The source's id.")
    ],
) -> None:
    """Stop watching a source; its events stay in the log."""
    from rich.markup import escape

    from tracker import catalog

    state = app_context(ctx)
    with state.db.session() as session:
        source = catalog.remove(session, source_id)
    console.print(f"Removed source {source_id}: {escape(source.name or source.target)}.")


@app.command("import")
def import_sources(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A TOML watch list or OPML file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Add every source of a watch list that is not watched yet (safe to repeat)."""
    added, existing = import_file(app_context(ctx), file, progress_lines=not as_json)
    if as_json:
        print_json({"added": added, "existing": existing})
    else:
        console.print(f"Imported {file.name}: {len(added)} added, {len(existing)} already watched.")


def import_file(
    state: AppContext, file: Path, *, progress_lines: bool = True
) -> tuple[list[SourcePublic], list[int]]:
    """Check every source of the file, then add the new ones in one transaction; progress
    on stderr while the hosts are checked (off a terminal, lines unless told not to)."""
    from tracker import watchlist
    from tracker.cli.output import escape
    from tracker.importing import LOOKUP_DEADLINE_SECONDS, import_specs

    specs = watchlist.read(file)
    label = f"Checking the hosts of {escape(file.name)}"
    with _host_progress(label, lines=progress_lines) as progress:
        outcome = import_specs(state.db, specs, where=file.name, progress=progress)
    if outcome.hosts_unanswered:
        errors.print(
            f"note: {outcome.hosts_unanswered} of {outcome.hosts_checked} host lookups did not "
            f"come back within {LOOKUP_DEADLINE_SECONDS:g}s; those hosts are checked when polled"
        )
    return outcome.added, outcome.existing


# Off a terminal (a log, a pipe), a line per this many hosts checked, when there are as many.
PROGRESS_LINE_EVERY = 50


@contextmanager
def _host_progress(label: str, *, lines: bool) -> Iterator[Progress | None]:
    """A progress bar on stderr when it is a terminal; otherwise, with `lines`, a line now
    and then on a long check (a script asking for --json gets its stderr quiet)."""
    if not errors.is_terminal:
        if not lines:
            yield None
            return

        def line(done: int, total: int) -> None:
            if (
                total >= PROGRESS_LINE_EVERY
                and done
                and (done % PROGRESS_LINE_EVERY == 0 or done == total)
            ):
                errors.print(f"{label}: {done}/{total} hosts checked")

        yield line
        return
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    with Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


@app.command("export")
def export_sources(
    ctx: typer.Context,
    format: Annotated[
        str, typer.Option("--format", help="toml (every source) or opml (feeds only).")
    ] = "toml",
) -> None:
    """Print the watch list as TOML (re-importable) or OPML (for feed readers)."""
    if format not in ("toml", "opml"):
        raise UserError(f"unknown format {format!r}: use toml or opml")
    from tracker import catalog, watchlist

    state = app_context(ctx)
    with state.db.read() as session:
        sources = catalog.all_sources(session)
    if format == "opml":
        left_out = sum(1 for s in sources if s.kind != "feed")
        if left_out:
            errors.print(
                f"note: {left_out} non-feed sources are not part of OPML; use --format toml"
            )
        typer.echo(watchlist.to_opml(sources), nl=False)
    else:
        typer.echo(watchlist.to_toml(sources), nl=False)
