"""The drill report's picture: cumulative confirmations over time, per unit and in total.

Plain SVG text built here, no plotting library: one step line per unit (at most
`MAX_UNIT_LINES`, the units that need most; the rest are in the total), a thick total line,
the total need as a dashed line, axes in minutes since the call-up and number confirmed,
and a legend. The labels are Swedish, as the written evaluations are. Only unit names and
counts are drawn: no person is ever named.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from dispatcher.clock import from_millis
from dispatcher.domain.drill_report import DrillReport, Series

WIDTH, HEIGHT = 800, 480
MAX_UNIT_LINES = 8
X_LABEL = "Minuter sedan inkallelsen"
Y_LABEL = "Antal bekräftade"
# Okabe–Ito: told apart with the common colour-vision deficiencies.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#D55E00", "#0072B2", "#CC79A7", "#F0E442", "#999999")
TOTAL_COLOUR = "#111111"
_KIND = {"drill": "ÖVNING", "crisis": "KRIS"}
_STOCKHOLM = ZoneInfo("Europe/Stockholm")
_LEGEND_WIDTH = 230
_MARGIN_LEFT, _MARGIN_TOP, _MARGIN_BOTTOM = 64, 64, 60


def nice_ticks(largest: float, most: int = 8) -> list[float]:
    """Tick values from 0 to at least `largest`, in steps of 1, 2 or 5 × 10ⁿ (never below 1),
    with at most `most` steps."""
    step = 1.0
    while largest / step > most:
        step *= 2.5 if f"{step:.0f}".startswith("2") else 2  # 1, 2, 5, 10, 20, 50, …
    return [step * i for i in range(max(1, math.ceil(largest / step)) + 1)]


def _label(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def _step_points(series: Series, span: float) -> list[tuple[float, float]]:
    """The series as a staircase: each confirmation raises the line where it happened."""
    points: list[tuple[float, float]] = []
    for minutes, count in series.points:
        if points:
            points.append((minutes, points[-1][1]))
        points.append((minutes, count))
    points.append((max(span, points[-1][0]), points[-1][1]))
    return points


def _shown_units(report: DrillReport) -> tuple[list[Series], int]:
    """The units drawn (of those that needed or got anyone, the `MAX_UNIT_LINES` that need
    most) and how many more there are."""
    drawn = [s for s in report.unit_series if s.needed > 0 or len(s.points) > 1]
    ranked = sorted(drawn, key=lambda s: (-s.needed, -s.points[-1][1], s.name))
    shown = {s.key for s in ranked[:MAX_UNIT_LINES]}
    return [s for s in drawn if s.key in shown], max(0, len(drawn) - MAX_UNIT_LINES)


def _short(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_chart(report: DrillReport, *, width: int = WIDTH, height: int = HEIGHT) -> str:
    """The chart as a standalone SVG document of `width` × `height` pixels."""
    left, top = _MARGIN_LEFT, _MARGIN_TOP
    right, bottom = width - _LEGEND_WIDTH, height - _MARGIN_BOTTOM
    total = report.total_series
    x_ticks = nice_ticks(max(report.span, 1.0))
    y_ticks = nice_ticks(max(total.points[-1][1], total.needed, 1))
    x_max, y_max = x_ticks[-1], y_ticks[-1]

    def x(minutes: float) -> float:
        return round(left + (right - left) * minutes / x_max, 1)

    def y(count: float) -> float:
        return round(bottom - (bottom - top) * count / y_max, 1)

    def polyline(series: Series, colour: str, stroke: float) -> str:
        points = " ".join(f"{x(m)},{y(c)}" for m, c in _step_points(series, report.span))
        return (
            f'<polyline points="{points}" fill="none" stroke="{colour}"'
            f' stroke-width="{stroke}" stroke-linejoin="round"/>'
        )

    activation = report.activation
    called = from_millis(report.called_at).astimezone(_STOCKHOLM).strftime("%Y-%m-%d %H:%M")
    kind = _KIND.get(activation.kind, activation.kind.upper())
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(f'{kind}: {activation.title}')}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{left}" y="24" font-size="16" font-weight="bold">'
        f"{escape(_short(f'{kind}: {activation.title}', 70))}</text>",
        f'<text x="{left}" y="44" fill="#444444">Bekräftade över tid, per enhet och totalt'
        f" · inkallelse {called}</text>",
    ]
    for tick in x_ticks:
        parts.append(
            f'<line x1="{x(tick)}" y1="{top}" x2="{x(tick)}" y2="{bottom}" stroke="#e5e5e5"/>'
            f'<text x="{x(tick)}" y="{bottom + 18}" text-anchor="middle">{_label(tick)}</text>'
        )
    for tick in y_ticks:
        parts.append(
            f'<line x1="{left}" y1="{y(tick)}" x2="{right}" y2="{y(tick)}" stroke="#e5e5e5"/>'
            f'<text x="{left - 8}" y="{y(tick) + 4}" text-anchor="end">{_label(tick)}</text>'
        )
    parts += [
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333333"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#333333"/>',
        f'<text x="{(left + right) / 2}" y="{height - 16}" text-anchor="middle">{X_LABEL}</text>',
        f'<text x="18" y="{(top + bottom) / 2}" text-anchor="middle"'
        f' transform="rotate(-90 18 {(top + bottom) / 2})">{Y_LABEL}</text>',
    ]
    if total.needed > 0:
        parts.append(
            f'<line x1="{left}" y1="{y(total.needed)}" x2="{right}" y2="{y(total.needed)}"'
            f' stroke="{TOTAL_COLOUR}" stroke-dasharray="6 4"/>'
            f'<text x="{right - 4}" y="{y(total.needed) - 6}" text-anchor="end">'
            f"Behov totalt: {total.needed}</text>"
        )
    shown, hidden = _shown_units(report)
    for index, series in enumerate(shown):
        parts.append(polyline(series, PALETTE[index % len(PALETTE)], 2))
    parts.append(polyline(total, TOTAL_COLOUR, 3.5))
    if total.points[-1][1] == 0:
        parts.append(
            f'<text x="{(left + right) / 2}" y="{(top + bottom) / 2}" text-anchor="middle"'
            ' font-size="14" fill="#666666">Ingen har bekräftat</text>'
        )
    parts += _legend(total, shown, hidden, right + 20, top)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _legend(total: Series, shown: Sequence[Series], hidden: int, x: int, top: int) -> list[str]:
    entries = [(TOTAL_COLOUR, total, 3.5)]
    entries += [(PALETTE[i % len(PALETTE)], s, 2.0) for i, s in enumerate(shown)]
    parts = [f'<text x="{x}" y="{top}" fill="#444444">Bekräftade / behov</text>']
    for row, (colour, series, stroke) in enumerate(entries, start=1):
        line_y = top + row * 22
        label = f"{_short(series.name)}: {series.points[-1][1]}/{series.needed}"
        parts.append(
            f'<line x1="{x}" y1="{line_y}" x2="{x + 22}" y2="{line_y}" stroke="{colour}"'
            f' stroke-width="{stroke}"/>'
            f'<text x="{x + 28}" y="{line_y + 4}">{escape(label)}</text>'
        )
    if hidden:
        more_y = top + (len(entries) + 1) * 22
        parts.append(
            f'<text x="{x}" y="{more_y}" fill="#444444">+ {hidden} enheter till (i totalen)</text>'
        )
    return parts
