"""Small server-side SVG charts (no JavaScript, no CDN): a multi-series line chart and bar lists.

Labels are escaped; each chart carries role="img" and a text summary, and the same numbers are
in the table next to it (and in its CSV), so nothing is only visible as a picture.
"""
from __future__ import annotations

import math

from django.utils.html import escape
from django.utils.safestring import mark_safe

PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2")


def _nice_max(value: float) -> float:
    """A round top for a 4-tick axis: 4 x (1, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5, 8 x 10^k) >= value."""
    if value <= 0:
        return 4
    step = value / 4
    magnitude = 10 ** math.floor(math.log10(step))
    for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5, 8, 10):
        if m * magnitude >= step:
            nice = m * magnitude
            return max(nice * 4, 4)
    return value


def line_chart(labels: list[str], series: list[tuple[str, list[float | None]]], title: str,
               width: int = 720, height: int = 240, percent: bool = False) -> str:
    pad_l, pad_r, pad_t, pad_b = 48, 12, 28, 36
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    values = [v for _, vals in series for v in vals if v is not None]
    top = 1.0 if percent else _nice_max(max(values, default=0))
    n = max(len(labels), 1)

    def x(i):
        return pad_l + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v):
        return pad_t + plot_h - plot_h * (v / top if top else 0)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>']
    for k in range(5):
        v = top * k / 4
        yy = y(v)
        tick = f"{v * 100:.0f}%" if percent else f"{v:,.0f}"
        parts.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{yy:.1f}" y2="{yy:.1f}" class="grid"/>'
                     f'<text x="{pad_l - 6}" y="{yy + 4:.1f}" text-anchor="end" class="tick">{tick}</text>')
    step = max(1, n // 8)
    for i, label in enumerate(labels):
        if i % step == 0 or i == n - 1:
            anchor = "end" if i == n - 1 and n > 1 else ("start" if i == 0 else "middle")
            parts.append(f'<text x="{x(i):.1f}" y="{height - pad_b + 16}" text-anchor="{anchor}" class="tick">'
                         f'{escape(label)}</text>')
    for idx, (name, vals) in enumerate(series):
        color = PALETTE[idx % len(PALETTE)]
        points = [(x(i), y(v)) for i, v in enumerate(vals) if v is not None]
        if points:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
            if len(points) == 1:
                parts.append(f'<circle cx="{points[0][0]:.1f}" cy="{points[0][1]:.1f}" r="3" fill="{color}"/>')
        lx = pad_l + idx * 170
        parts.append(f'<rect x="{lx}" y="8" width="12" height="12" fill="{color}"/>'
                     f'<text x="{lx + 16}" y="18" class="legend">{escape(name)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def bar_chart(items: list[tuple[str, float]], title: str, width: int = 360, percent: bool = False) -> str:
    """Horizontal bars, one per item (label, value)."""
    row_h, label_w, pad = 26, 200, 8
    height = pad * 2 + row_h * max(len(items), 1)
    top = 1.0 if percent else max((v for _, v in items), default=0) or 1
    width = max(width, 440)
    bar_w = width - label_w - 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>']
    for i, (label, value) in enumerate(items):
        yy = pad + i * row_h
        w = bar_w * (value / top if top else 0)
        shown = f"{value * 100:.1f}%" if percent else f"{value:,.0f}"
        parts.append(f'<text x="{label_w - 6}" y="{yy + 17}" text-anchor="end" class="tick big">{escape(label if len(label) <= 30 else label[:29] + "…")}</text>'
                     f'<rect x="{label_w}" y="{yy + 4}" width="{max(w, 0):.1f}" height="{row_h - 8}" '
                     f'fill="{PALETTE[i % len(PALETTE)]}"/>'
                     f'<text x="{label_w + max(w, 0) + 6:.1f}" y="{yy + 17}" class="tick big">{shown}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
