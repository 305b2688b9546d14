"""Server-rendered SVG charts (no JavaScript): the openness mix of an author over time."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from tracker.openness import LICENSE_CLASSES
from tracker.report import AuthorReport

COLOURS = {
    "open": "#2e7d32",
    "restricted": "#f9a825",
    "non-commercial": "#ef6c00",
    "unknown": "#757575",
}
WIDTH, HEIGHT, PAD, AXIS = 640, 200, 8, 24


def openness_chart(report: AuthorReport) -> Markup:
    """Stacked bars of repos by license class at each point, and the share kept public."""
    points = report.timeline
    peak = max((mix.repos for _, mix in points), default=0) or 1
    slot = (WIDTH - 2 * PAD) / max(len(points), 1)
    plot = HEIGHT - AXIS - PAD
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'class="chart" aria-label="Repos of {escape(report.author)} by license class over time">'
    ]
    public_line = []
    for index, (moment, mix) in enumerate(points):
        x = PAD + index * slot + slot * 0.15
        width = slot * 0.7
        base = float(PAD + plot)
        for name in LICENSE_CLASSES:
            count = mix.license.get(name, 0)
            if not count:
                continue
            height = plot * count / peak
            base -= height
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{width:.1f}" height="{height:.1f}" '
                f'fill="{COLOURS[name]}"><title>{moment:%Y-%m-%d}: {count} {name}</title></rect>'
            )
        if mix.repos:
            share = mix.access.get("public", 0) / mix.repos
            public_line.append(f"{x + width / 2:.1f},{PAD + plot * (1 - share):.1f}")
        if index % max(1, len(points) // 6) == 0 or index == len(points) - 1:
            parts.append(
                f'<text x="{x + width / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" '
                f'font-size="11">{moment:%Y-%m}</text>'
            )
    if len(public_line) > 1:
        parts.append(
            f'<polyline points="{" ".join(public_line)}" fill="none" stroke="#1565c0" '
            'stroke-width="2"><title>share of repos public (not gated, not withdrawn)</title>'
            "</polyline>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def legend() -> Markup:
    items = "".join(
        f'<span class="swatch {escape(name)}"></span>{escape(name)} ' for name in LICENSE_CLASSES
    )
    return Markup(items + '<span class="swatch line"></span>share public')
