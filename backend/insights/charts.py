"""Charts of the insights pages, drawn on the server as inline SVG: pure functions from numbers
and labels to an SVG string.

Why on the server: the pages must load on a slow phone connection and with no access to third
parties, so there is no charting script to download. Every chart is sized by its ``viewBox``
only (the page's stylesheet makes it as wide as its column), so it scales down to a 360-pixel
phone; the drawing units are close to CSS pixels at that width, which keeps the text legible.
Colours are presentation attributes, not ``style`` attributes, so the page's Content Security
Policy needs no inline-style exception for them. Every text is escaped here: callers pass plain
strings (organisation-free labels, material names, activity titles).

A suppressed value (``None``: built from fewer than three organisations) is drawn as an empty
dashed marker on the baseline, with the caller's explanation as its tooltip: the chart never
carries a number for it, not even as a height.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 360
PLOT_HEIGHT = 140
LEFT = 44  # room for the y axis' labels
RIGHT = 8
TOP = 12
BOTTOM = 34  # month labels, and the year under some of them
FONT = 'font-family="system-ui,sans-serif"'
INK = "#222"
MUTED = "#777"
GRID = "#ddd"
BAR = "#2f7d4f"
LINE = "#1f5f99"
# Okabe and Ito's palette: told apart by readers with the common colour-vision deficiencies.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000")
OTHER = "#999"


@dataclass(frozen=True, slots=True)
class Point:
    """One value of a series: ``label`` under it (short, e.g. "04"), ``sublabel`` a second line
    (e.g. the year, or ""), ``value`` None when suppressed, ``title`` the tooltip."""

    label: str
    sublabel: str
    value: float | None
    title: str


@dataclass(frozen=True, slots=True)
class Band:
    """One band of a flow diagram: ``value`` (kg) from ``source`` to ``target`` (their keys and
    shown labels), coloured by ``colour`` (e.g. the material), ``title`` its tooltip."""

    source: str
    source_label: str
    target: str
    target_label: str
    colour: str
    colour_label: str
    value: float
    title: str


def _e(text: str) -> str:
    return escape(text, quote=True)


def _n(value: float) -> str:
    """A coordinate: short, never in exponent notation."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def compact(value: float) -> str:
    """An axis label: 0, 950, 1.2k, 34k, 1.5M, 2G (ASCII: the same in every language)."""
    size = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            scaled = value / limit
            text = f"{scaled:.1f}" if abs(scaled) < 10 else f"{scaled:.0f}"
            return (text[:-2] if text.endswith(".0") else text) + suffix
    if size == 0 or size >= 10:
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 (times a power of ten) at or above ``value`` (> 0)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10 * power  # pragma: no cover: the loop ends at 10


def _domain(values: Sequence[float]) -> tuple[float, float]:
    high = max([0.0, *values])
    low = min([0.0, *values])
    if high == 0 and low == 0:
        return 0.0, 1.0
    return (-nice_ceiling(-low) if low < 0 else 0.0), (nice_ceiling(high) if high > 0 else 0.0)


def _open(width: float, height: float, caption: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'role="img" aria-label="{_e(caption)}" {FONT} font-size="11" fill="{INK}">',
        f"<title>{_e(caption)}</title>",
    ]


Scale = Callable[[float], float]


def _axes(
    points: Sequence[Point], low: float, high: float, y: Scale, step: float, parts: list[str]
) -> None:
    """The horizontal grid with its labels (low, zero, high) and the points' labels."""
    for value in sorted({low, 0.0, high}):
        position = y(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_n(position)}" y2="{_n(position)}" '
            f'stroke="{INK if value == 0 else GRID}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 4}" y="{_n(position + 4)}" text-anchor="end" '
            f'fill="{MUTED}">{_e(compact(value))}</text>'
        )
    for index, point in enumerate(points):
        centre = LEFT + step * (index + 0.5)
        parts.append(
            f'<text x="{_n(centre)}" y="{TOP + PLOT_HEIGHT + 14}" text-anchor="middle" '
            f'fill="{MUTED}">{_e(point.label)}</text>'
        )
        if point.sublabel:
            parts.append(
                f'<text x="{_n(centre)}" y="{TOP + PLOT_HEIGHT + 28}" text-anchor="middle" '
                f'fill="{MUTED}">{_e(point.sublabel)}</text>'
            )


def _suppressed_marker(centre: float, width: float, baseline: float, title: str) -> str:
    return (
        f'<rect x="{_n(centre - width / 2)}" y="{_n(baseline - 8)}" width="{_n(width)}" '
        f'height="8" fill="none" stroke="{MUTED}" stroke-dasharray="2 2" class="suppressed">'
        f"<title>{_e(title)}</title></rect>"
    )


def _frame(points: Sequence[Point]) -> tuple[float, float, float, Scale]:
    values = [p.value for p in points if p.value is not None]
    low, high = _domain(values)
    step = (WIDTH - LEFT - RIGHT) / max(len(points), 1)

    def y(value: float) -> float:
        return TOP + PLOT_HEIGHT * (high - value) / (high - low)

    return low, high, step, y


def bar_chart(points: Sequence[Point], *, caption: str, colour: str = BAR) -> str:
    """A bar per point (months), bars below the axis for negative values."""
    low, high, step, y = _frame(points)
    parts = _open(WIDTH, TOP + PLOT_HEIGHT + BOTTOM, caption)
    _axes(points, low, high, y, step, parts)
    bar = max(step * 0.7, 1.0)
    zero = y(0.0)
    for index, point in enumerate(points):
        centre = LEFT + step * (index + 0.5)
        if point.value is None:
            parts.append(_suppressed_marker(centre, bar, zero, point.title))
            continue
        top, bottom = sorted((y(point.value), zero))
        parts.append(
            f'<rect x="{_n(centre - bar / 2)}" y="{_n(top)}" width="{_n(bar)}" '
            f'height="{_n(max(bottom - top, 0.5 if point.value else 0))}" fill="{colour}">'
            f"<title>{_e(point.title)}</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(points: Sequence[Point], *, caption: str, colour: str = LINE) -> str:
    """A line through the points, broken where a point is suppressed (no value is implied
    across the gap), with a dot on each shown point."""
    low, high, step, y = _frame(points)
    parts = _open(WIDTH, TOP + PLOT_HEIGHT + BOTTOM, caption)
    _axes(points, low, high, y, step, parts)
    runs: list[list[str]] = [[]]
    for index, point in enumerate(points):
        if point.value is None:
            runs.append([])
        else:
            runs[-1].append(f"{_n(LEFT + step * (index + 0.5))},{_n(y(point.value))}")
    for run in runs:
        if len(run) > 1:
            parts.append(
                f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                'stroke-width="2"/>'
            )
    zero = y(0.0)
    for index, point in enumerate(points):
        centre = LEFT + step * (index + 0.5)
        if point.value is None:
            parts.append(_suppressed_marker(centre, max(step * 0.5, 1.0), zero, point.title))
            continue
        parts.append(
            f'<circle cx="{_n(centre)}" cy="{_n(y(point.value))}" r="3" fill="{colour}">'
            f"<title>{_e(point.title)}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


# Flow diagram geometry.
NODE = 8  # width of a node's bar
GAP = 10  # between nodes of one side
ROW = 30  # height per node, so that the labels of small nodes do not overlap
LABEL_CHARS = 30
LEGEND_ROW = 16


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1].rstrip() + "\u2026"


def colours_of(keys: Sequence[str]) -> dict[str, str]:
    """A colour per key, in the order given (the palette repeats after eight)."""
    return {key: PALETTE[index % len(PALETTE)] for index, key in enumerate(dict.fromkeys(keys))}


def sankey(bands: Sequence[Band], *, caption: str, legend_title: str) -> str:
    """Bands from sources (left) to targets (right), each as thick as its value, stacked on
    each node largest first; nodes as tall as the bands through them. Sources and targets are
    separate columns even when they share a key (an activity supplying itself)."""
    shown = [band for band in bands if band.value > 0]
    sources: dict[str, float] = {}
    targets: dict[str, float] = {}
    labels: dict[tuple[str, str], str] = {}
    for band in shown:
        sources[band.source] = sources.get(band.source, 0.0) + band.value
        targets[band.target] = targets.get(band.target, 0.0) + band.value
        labels["source", band.source] = band.source_label
        labels["target", band.target] = band.target_label
    left = sorted(sources, key=lambda key: -sources[key])
    right = sorted(targets, key=lambda key: -targets[key])
    total = sum(sources.values())
    rows = max(len(left), len(right), 1)
    plot = max(ROW * rows, 120)
    legend = list(dict.fromkeys((b.colour, b.colour_label) for b in shown))
    height = TOP + plot + 12 + LEGEND_ROW * (len(legend) + 1)
    parts = _open(WIDTH, height, caption)
    if not shown:
        parts.append("</svg>")
        return "".join(parts)
    scale = min((plot - GAP * (len(side) - 1)) / total for side in (left, right))
    x0, x1 = 0.0, float(WIDTH - NODE)

    def place(order: list[str], sizes: dict[str, float]) -> dict[str, float]:
        tops, y = {}, float(TOP)
        for key in order:
            tops[key] = y
            y += max(sizes[key] * scale, 1.0) + GAP
        return tops

    source_top, target_top = place(left, sources), place(right, targets)
    source_next, target_next = dict(source_top), dict(target_top)
    # Bands leave a source in the order of their targets and reach a target in the order of
    # their sources, so that they do not cross at the nodes.
    for band in sorted(shown, key=lambda b: (right.index(b.target), left.index(b.source))):
        thickness = max(band.value * scale, 0.5)
        s0 = source_next[band.source]
        t0 = target_next[band.target]
        source_next[band.source] = s0 + thickness
        target_next[band.target] = t0 + thickness
        s1, t1 = s0 + thickness, t0 + thickness
        a, b = x0 + NODE, x1
        m = (a + b) / 2
        path = (
            f"M{_n(a)},{_n(s0)}C{_n(m)},{_n(s0)} {_n(m)},{_n(t0)} {_n(b)},{_n(t0)}"
            f"L{_n(b)},{_n(t1)}C{_n(m)},{_n(t1)} {_n(m)},{_n(s1)} {_n(a)},{_n(s1)}Z"
        )
        parts.append(
            f'<path d="{path}" fill="{band.colour}" fill-opacity="0.55">'
            f"<title>{_e(band.title)}</title></path>"
        )
    for side, order, tops, sizes, x in (
        ("source", left, source_top, sources, x0),
        ("target", right, target_top, targets, x1),
    ):
        for key in order:
            top, size = tops[key], max(sizes[key] * scale, 1.0)
            label = labels[side, key]
            parts.append(
                f'<rect x="{_n(x)}" y="{_n(top)}" width="{NODE}" height="{_n(size)}" '
                f'fill="{INK}"><title>{_e(label)}</title></rect>'
            )
            anchor, at = ("start", x + NODE + 4) if side == "source" else ("end", x - 4)
            parts.append(
                f'<text x="{_n(at)}" y="{_n(top + size / 2 + 4)}" text-anchor="{anchor}" '
                f'stroke="#fff" stroke-width="3" paint-order="stroke">{_e(_short(label))}</text>'
            )
    y = TOP + plot + 12 + LEGEND_ROW - 4
    parts.append(f'<text x="0" y="{_n(y)}" fill="{MUTED}">{_e(legend_title)}</text>')
    for colour, label in legend:
        y += LEGEND_ROW
        parts.append(f'<rect x="0" y="{_n(y - 9)}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="16" y="{_n(y)}">{_e(_short(label))}</text>')
    parts.append("</svg>")
    return "".join(parts)
