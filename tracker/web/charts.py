"""Server-rendered SVG charts (no JavaScript): axes with ticks and labels, a value on hover
(`<title>`), and fills told apart by pattern as well as colour, so they read in grey too.
Every chart is shown beside a table of the same numbers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from markupsafe import Markup

from tracker.openness import LICENSE_CLASSES
from tracker.report import AuthorReport

COLOURS = {
    "open": "#2f855a",
    "restricted": "#d69e2e",
    "non-commercial": "#c05621",
    "unknown": "#718096",
}
# A second cue beside colour: solid, hatched, dotted, cross-hatched.
PATTERNS = {
    "open": "",
    "restricted": "hatch",
    "non-commercial": "dots",
    "unknown": "cross",
}
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 44, 12, 40


def _defs() -> str:
    parts = ["<defs>"]
    for name, kind in PATTERNS.items():
        if not kind:
            continue
        colour = COLOURS[name]
        if kind == "hatch":
            mark = '<path d="M0,6 L6,0" stroke="#fff" stroke-width="1.4"/>'
        elif kind == "dots":
            mark = '<circle cx="3" cy="3" r="1.3" fill="#fff"/>'
        else:
            mark = '<path d="M0,0 L6,6 M6,0 L0,6" stroke="#fff" stroke-width="1"/>'
        parts.append(
            f'<pattern id="fill-{name}" width="6" height="6" patternUnits="userSpaceOnUse">'
            f'<rect width="6" height="6" fill="{colour}"/>{mark}</pattern>'
        )
    parts.append("</defs>")
    return "".join(parts)


def _fill(name: str) -> str:
    return f"url(#fill-{name})" if PATTERNS.get(name) else COLOURS[name]


def _ticks(peak: int) -> list[int]:
    """Round tick values from 0 to at least `peak` (at most six)."""
    if peak <= 5:
        return list(range(0, max(peak, 1) + 1))
    step = 1
    while peak / step > 5:
        step = step * 5 // 2 if str(step).startswith("2") else step * 2
    top = -(-peak // step) * step
    return list(range(0, top + 1, step))


def _frame(label: str, ticks: Sequence[int], y_title: str, right_title: str = "") -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    top = ticks[-1] or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" class="chart" aria-label="{escape(label)}">',
        _defs(),
    ]
    for tick in ticks:
        y = TOP + plot_h * (1 - tick / top)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{tick}</text>'
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" class="axis"/>'
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        'class="axis"/>'
        f'<text x="12" y="{TOP + plot_h / 2:.0f}" class="axis-title" text-anchor="middle" '
        f'transform="rotate(-90 12 {TOP + plot_h / 2:.0f})">{escape(y_title)}</text>'
    )
    if right_title:
        x = WIDTH - 10
        parts.append(
            f'<text x="{x}" y="{TOP + plot_h / 2:.0f}" class="axis-title" text-anchor="middle" '
            f'transform="rotate(90 {x} {TOP + plot_h / 2:.0f})">{escape(right_title)}</text>'
        )
    return parts


def openness_chart(report: AuthorReport) -> Markup:
    """Stacked bars of repos by license class at each point (left axis, repos) and the
    share of repos public as a line (right axis, 0 to 100 %)."""
    points = report.timeline
    peak = max((mix.repos for _, mix in points), default=0)
    ticks = _ticks(peak)
    top = ticks[-1] or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(points), 1)
    parts = _frame(
        f"Repos of {report.author} by license class over time, and the share public",
        ticks,
        "repos",
        "% public",
    )
    for share in (0, 50, 100):
        y = TOP + plot_h * (1 - share / 100)
        parts.append(f'<text x="{WIDTH - RIGHT + 6}" y="{y + 4:.1f}" class="tick">{share}%</text>')
    line: list[tuple[float, float, datetime, float]] = []
    every = max(1, len(points) // 6)
    for index, (moment, mix) in enumerate(points):
        x = LEFT + index * slot + slot * 0.18
        width = slot * 0.64
        base = float(TOP + plot_h)
        for name in LICENSE_CLASSES:
            count = mix.license.get(name, 0)
            if not count:
                continue
            height = plot_h * count / top
            base -= height
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{width:.1f}" height="{height:.1f}" '
                f'fill="{_fill(name)}" class="bar"><title>{moment:%Y-%m-%d}: {count} '
                f"{escape(name)}</title></rect>"
            )
        if mix.repos:
            public = mix.access.get("public", 0) / mix.repos
            line.append((x + width / 2, TOP + plot_h * (1 - public), moment, public))
        if index % every == 0 or index == len(points) - 1:
            parts.append(
                f'<text x="{x + width / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'class="tick">{moment:%Y-%m-%d}</text>'
            )
    if len(line) > 1:
        joined = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in line)
        parts.append(f'<polyline points="{joined}" class="share-line"/>')
    for px, py, at, part in line:
        parts.append(
            f'<rect x="{px - 4:.1f}" y="{py - 4:.1f}" width="8" height="8" class="share-point">'
            f"<title>{at:%Y-%m-%d}: {part:.0%} public</title></rect>"
        )
    parts.append(
        f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle" '
        'class="axis-title">date</text></svg>'
    )
    return Markup("".join(parts))


def score_chart(scores: Sequence[tuple[datetime, str, int]], *, most: int = 8) -> Markup:
    """Disclosure score of each release in order (0 to `most` dimensions disclosed)."""
    ticks = list(range(0, most + 1, 2))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = _frame("Disclosure score of each release, oldest first", ticks, "dimensions")
    slot = plot_w / max(len(scores), 1)
    framed = len(parts)
    points = []
    for index, (moment, subject, score) in enumerate(scores):
        x = LEFT + index * slot + slot / 2
        y = TOP + plot_h * (1 - min(score, most) / most)
        points.append((x, y))
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" class="score-point"><title>'
            f"{escape(subject)} ({moment:%Y-%m-%d}): {score} of {most}</title></circle>"
            f'<text x="{x:.1f}" y="{y - 9:.1f}" text-anchor="middle" class="value">{score}</text>'
        )
        short = subject.split("/")[-1][:16]
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" class="tick">'
            f"{escape(short)}</text>"
        )
    if len(points) > 1:
        joined = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.insert(framed, f'<polyline points="{joined}" class="score-line"/>')
    parts.append(
        f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle" '
        'class="axis-title">release</text></svg>'
    )
    return Markup("".join(parts))


def legend() -> Markup:
    """The key: a swatch in each class's colour and pattern, and the line."""
    items = []
    for name in LICENSE_CLASSES:
        items.append(
            '<span class="key"><svg width="14" height="14" aria-hidden="true">'
            f'{_defs()}<rect width="14" height="14" fill="{_fill(name)}"/></svg>'
            f"{escape(name)}</span>"
        )
    items.append(
        '<span class="key"><svg width="14" height="14" aria-hidden="true">'
        '<rect x="3" y="3" width="8" height="8" class="share-point"/></svg>share public</span>'
    )
    return Markup(" ".join(items))
