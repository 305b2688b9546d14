"""`tracker report openness`: how open each watched Hub author is, and how that moved;
`tracker report lineage`: what is built on a model, and what it is built on;
`tracker report terms`: the clauses a repo's license and gate, or a page, carry now;
`tracker report disclosure`: what each release disclosed, author by author, over time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from tracker.cli.context import app_context
from tracker.cli.output import console, escape, print_json
from tracker.durations import parse_since
from tracker.errors import UserError

if TYPE_CHECKING:
    from tracker.report import Mix

app = typer.Typer(help="Reports computed from the event log.", no_args_is_help=True)


@app.command("openness")
def openness(
    ctx: typer.Context,
    author: Annotated[
        str | None, typer.Option("--author", help="Only this Hub user or org.")
    ] = None,
    since: Annotated[
        str, typer.Option("--since", help="Window: 30d, 1y, or an ISO 8601 date.")
    ] = "1y",
    as_json_flag: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Per author: today's repos by license class and access, and how that moved."""
    from tracker import catalog
    from tracker.overview import why_no_report
    from tracker.report import as_json, openness_report

    state = app_context(ctx)
    now = datetime.now(UTC)
    start = parse_since(since, now=now)
    with state.db.read() as session:
        reports = openness_report(session, since=start, now=now, author=author)
    if as_json_flag:
        print_json(as_json(reports, since=start, now=now))
        return
    if not reports:
        with state.db.read() as session:
            reason = why_no_report(catalog.all_sources(session), author)
        console.print(escape(reason))
        return
    for report in reports:
        console.print(f"[bold]{escape(report.author)}[/]: {report.today.repos} repos")
        console.print(f"  license  {_counts(report.today.license)}")
        console.print(f"  access   {_counts(report.today.access)}")
        m = report.moves
        console.print(
            f"  since {start:%Y-%m-%d}: {m['closing']} closing, {m['opening']} opening; "
            f"{m['published']} published, {m['withdrawn']} withdrawn, {m['restored']} restored"
        )
        for at, mix in report.timeline:
            console.print(f"    {at:%Y-%m-%d}  {mix.repos:>5} repos  {_shares(mix)}")


def _counts(counts: dict[str, int]) -> str:
    return " · ".join(f"{name} {n}" for name, n in counts.items())


def _shares(mix: Mix) -> str:
    if not mix.repos:
        return ""
    open_share = mix.license["open"] / mix.repos
    public_share = mix.access["public"] / mix.repos
    return f"open license {open_share:>4.0%}  public {public_share:>4.0%}"


@app.command("lineage")
def lineage(
    ctx: typer.Context,
    repo: Annotated[str, typer.Argument(metavar="OWNER/REPO", help="A Hub model.")],
    as_json_flag: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """What is built on a model (watched derivatives by relation, the Hub's count) and what
    it is built on, up to the roots; derivatives whose license is looser than their base's."""
    from tracker.report import lineage_report
    from tracker.sources.hub import parse_target

    target = parse_target(repo, None)
    if not target.repo_id:
        raise UserError(f"expected OWNER/REPO, not {repo!r}")
    state = app_context(ctx)
    with state.db.read() as session:
        report = lineage_report(session, target.repo_id)
    if as_json_flag:
        print_json(report)
        return
    console.print(f"[bold]{escape(report['id'])}[/]  {_describe(report)}")
    if report["bases"]:
        console.print("  built on:")
        _print_tree(report["bases"], "bases", depth=2)
    else:
        console.print("  built on: no base the tracker knows of")
    counts = report["counts"]
    watched = counts["watched"]
    breakdown = " · ".join(f"{r} {n}" for r, n in watched.items() if r != "total")
    line = f"  built on it: {watched['total']} watched ({breakdown})"
    if counts["watched_descendants"] > watched["total"]:
        line += f", {counts['watched_descendants']} watched in all below it"
    console.print(line)
    hub = counts["hub"]
    if hub:
        relations = " · ".join(
            f"{r} {n:,}"
            for r, n in hub.items()
            if isinstance(n, int) and r not in ("total", "event_id")
        )
        console.print(
            f"  on the Hub: {hub['total']:,} when it closed up ({hub['as_of'][:10]}; {relations})"
        )
    _print_tree(report["derivatives"], "derivatives", depth=2)
    for looser in report["looser_licenses"]:
        license_id = escape(str(looser["license"]))
        console.print(
            f"  [yellow]looser license[/]: {escape(looser['id'])} ({license_id})"
            f" is built on {escape(looser['base'])}"
        )


def _describe(entry: dict) -> str:
    if not entry["watched"]:
        return "[dim]not watched[/]"
    openness = entry["openness"] or {}
    return (
        f"{escape(str(entry['license']))}: {openness.get('license', '?')}, "
        f"{openness.get('access', '?')}"
    )


def _print_tree(entries: list[dict], key: str, *, depth: int) -> None:
    for entry in entries:
        relation = entry["relation"] or "unsaid"
        flag = ""
        if entry.get("looser_than_base") or entry.get("derivative_looser"):
            flag = (
                "  [yellow]looser than its base[/]"
                if key == "derivatives"
                else ("  [yellow]the repo above it has a looser license[/]")
            )
        console.print(
            f"{' ' * depth}{relation:<10} {escape(entry['id'])}  {_describe(entry)}{flag}"
        )
        _print_tree(entry.get(key, []), key, depth=depth + 2)


@app.command("terms")
def terms(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="OWNER/REPO|URL", help="A watched Hub repo, or a watched page's URL."
        ),
    ],
    as_json_flag: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """The clauses a repo's license page and gate (or a watched page) carry now, each with
    the sentence that shows it and when it appeared; the fields the gate asks for."""
    from tracker.report import terms_report

    state = app_context(ctx)
    with state.db.read() as session:
        report = terms_report(session, target)
    if as_json_flag:
        print_json(report)
        return
    if report["kind"] == "repo":
        openness = report["openness"]
        license_id = report["license"]["id"] or "no license"
        console.print(
            f"[bold]{escape(report['subject'])}[/]  {escape(str(license_id))}: "
            f"{openness['license']}, {openness['access']}"
        )
    else:
        console.print(f"[bold]{escape(report['subject'])}[/]")
        if report.get("repos"):
            console.print(f"  the license page of {escape(', '.join(report['repos']))}")
    if not report["texts"]:
        console.print("  no license page, gate or policy text read")
    for text in report["texts"]:
        _print_text(text)


_TEXT_NAMES = {"license_link": "license", "gate_prompt": "gate", "page": "page"}


def _print_text(text: dict) -> None:
    name = _TEXT_NAMES.get(text["text"], text["text"])
    if text["text"] == "gate_prompt":
        eu = "; refuses requesters in the EU" if text["eu_disallowed"] else ""
        since = _since(text["eu_since"]) if text["eu_disallowed"] else ""
        console.print(f"  {name:<8} {escape(str(text['gated'] or 'not gated'))}{eu}{since}")
        if text.get("heading"):
            console.print(f"           “{escape(text['heading'])}”")
    else:
        where = text.get("url") or text.get("link") or ""
        read = f" (read {str(text['read_at'])[:10]})" if text.get("read_at") else ""
        console.print(f"  {name:<8} {escape(where)}{read}")
        if text.get("error"):
            console.print(f"           [yellow]not read[/]: {escape(text['error'])}")
        if text.get("open_license"):
            console.print(f"           the text of {escape(text['open_license'])}")
    if not text["clauses"] and not text.get("error"):
        console.print("           no clauses")
    for clause in text["clauses"]:
        console.print(f"    {clause['clause']:<20} {escape(clause['words'])}{_since(clause)}")
        if clause.get("evidence"):
            console.print(f"      “{escape(clause['evidence'])}”")
    for field in text.get("fields") or []:
        options = f": {', '.join(field['options'])}" if field.get("options") else ""
        console.print(
            f"    field  {escape(field['name'])} ({escape(field['type'])}{escape(options)})"
            f"{_since(field)}"
        )


def _since(entry: dict | None) -> str:
    if not entry or not entry.get("since"):
        return ""
    how = f", event {entry['event_id']}" if entry.get("event_id") else ", first read"
    return f"  [dim](since {str(entry['since'])[:10]}{how})[/]"


# Column heads of the disclosure grid, in the contract's order of dimensions.
_SHORT = {
    "architecture": "arch",
    "model_size": "size",
    "hardware": "hw",
    "compute": "comp",
    "data": "data",
    "training_method": "meth",
    "weights": "wts",
    "evaluation": "eval",
}
_MARK = {"disclosed": "[green]✓[/]", "withheld": "[red]✗[/]", "unknown": "[dim]·[/]"}


@app.command("disclosure")
def disclosure(
    ctx: typer.Context,
    author: Annotated[
        str | None,
        typer.Option("--author", help="Only this author (Hub user or org, or source name)."),
    ] = None,
    as_json_flag: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """A scorecard per release, author by author over time: each disclosure dimension
    disclosed, withheld or unknown, the score, and where a release disclosed less."""
    from tracker.report import disclosure_report

    state = app_context(ctx)
    with state.db.read() as session:
        report = disclosure_report(session, author=author)
    if as_json_flag:
        print_json(report)
        return
    if not report["authors"]:
        console.print(
            "No release scored yet"
            + (f" for {escape(author)}" if author else "")
            + ": new models of watched Hub authors, release posts and PDF reports are scored"
            " as they appear."
        )
        return
    heads = " ".join(f"{_SHORT[d]:<4}" for d in report["dimensions"])
    for entry in report["authors"]:
        count = entry["count"]
        console.print(
            f"[bold]{escape(entry['author'])}[/]: {count} release{'s' if count != 1 else ''}"
        )
        console.print(f"  [dim]{'date':<10}  {'kind':<6}  score  {heads} release[/]")
        for release in entry["releases"]:
            when = (release["published_at"] or release["recorded_at"])[:10]
            marks = " ".join(
                _MARK[release["dimensions"][d]["status"]] + "   " for d in report["dimensions"]
            )
            name = release["title"] if release["kind"] != "model" and release["title"] else ""
            shown = escape(name or release["subject"])
            console.print(
                f"  {when:<10}  {release['kind']:<6}  {release['score']}/{release['of']}    "
                f"{marks} {shown}"
            )
            regressed = release["regressed"]
            if regressed:
                console.print(
                    f"      [yellow]discloses less than {escape(str(regressed['previous']))}[/]"
                    f" ({regressed['score_before']} → {regressed['score_after']}): lost "
                    + ", ".join(regressed["lost"])
                )
            for dim in release["withheld"]:
                evidence = release["dimensions"][dim]["evidence"]
                console.print(f"      withheld {dim}: {escape(_short(evidence))}")
    console.print("  [dim]✓ disclosed  ✗ withheld  · unknown[/]")


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
