"""Small SVG charts for evaluation reports, written by hand.

Three charts are all a report needs (a confusion matrix, a scatter, a
calibration curve), and plain SVG draws them in a few dozen lines: no
plotting library to install or import, output that is the same on every
machine, text a test can parse, and files a browser or GitHub shows inline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

import numpy as np

WIDTH, HEIGHT = 420, 360
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 34, 50
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _svg(body: list[str], title: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
    )
    caption = f'<text x="{width / 2:.0f}" y="20" text-anchor="middle" {FONT} font-weight="bold">{escape(title)}</text>'
    return "\n".join([head, f"<title>{escape(title)}</title>", caption, *body, "</svg>"]) + "\n"


def _axes(x_label: str, y_label: str, ticks: Sequence[float] = (0, 0.25, 0.5, 0.75, 1.0)) -> tuple[list[str], Callable[[float], float], Callable[[float], float]]:
    """Axes for [0, 1] x [0, 1]; returns the SVG elements and the two scale functions."""
    w, h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(v: float) -> float:
        return LEFT + v * w

    def sy(v: float) -> float:
        return TOP + (1 - v) * h

    out = [f'<rect x="{LEFT}" y="{TOP}" width="{w}" height="{h}" fill="none" stroke="#888"/>']
    for t in ticks:
        out.append(f'<line x1="{sx(t):.1f}" y1="{sy(0):.1f}" x2="{sx(t):.1f}" y2="{sy(0) + 4:.1f}" stroke="#888"/>')
        out.append(f'<text x="{sx(t):.1f}" y="{sy(0) + 16:.1f}" text-anchor="middle" {FONT}>{t:g}</text>')
        out.append(f'<line x1="{sx(0) - 4:.1f}" y1="{sy(t):.1f}" x2="{sx(0):.1f}" y2="{sy(t):.1f}" stroke="#888"/>')
        out.append(f'<text x="{sx(0) - 7:.1f}" y="{sy(t) + 4:.1f}" text-anchor="end" {FONT}>{t:g}</text>')
    out.append(f'<text x="{LEFT + w / 2:.0f}" y="{HEIGHT - 12}" text-anchor="middle" {FONT}>{escape(x_label)}</text>')
    out.append(
        f'<text x="16" y="{TOP + h / 2:.0f}" text-anchor="middle" {FONT} '
        f'transform="rotate(-90 16 {TOP + h / 2:.0f})">{escape(y_label)}</text>'
    )
    return out, sx, sy


def scatter(x: Sequence[float], y: Sequence[float], *, title: str, x_label: str, y_label: str, seed: int = 0) -> str:
    """Points in [0, 1]²; discrete values get a little vertical jitter so piles show."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    body, sx, sy = _axes(x_label, y_label)
    if len(y) and len(np.unique(y)) <= 12:
        y = y + np.random.default_rng(seed).uniform(-0.025, 0.025, len(y))
    # Thousands of points: keep the file small by drawing a fixed sample.
    if len(x) > 3000:
        keep = np.sort(np.random.default_rng(seed).choice(len(x), 3000, replace=False))
        x, y = x[keep], y[keep]
    body += [f'<circle cx="{sx(a):.1f}" cy="{sy(min(max(b, -0.03), 1.03)):.1f}" r="2" fill="#3465a4" fill-opacity="0.35"/>' for a, b in zip(x, y)]
    return _svg(body, title)


def calibration_curve(x: Sequence[float], y: Sequence[float], *, title: str, x_label: str, y_label: str, bins: int = 10) -> str:
    """Mean of y in equal-width bins of x, against the diagonal; dot area shows the bin's size."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    body, sx, sy = _axes(x_label, y_label)
    body.append(f'<line x1="{sx(0):.1f}" y1="{sy(0):.1f}" x2="{sx(1):.1f}" y2="{sy(1):.1f}" stroke="#bbb" stroke-dasharray="4 3"/>')
    which = np.minimum((np.clip(x, 0, 1) * bins).astype(int), bins - 1)
    points = []
    for b in range(bins):
        sel = which == b
        if sel.any():
            points.append(((b + 0.5) / bins, float(y[sel].mean()), int(sel.sum())))
    if points:
        path = " ".join(f"{'M' if i == 0 else 'L'}{sx(px):.1f},{sy(py):.1f}" for i, (px, py, _) in enumerate(points))
        body.append(f'<path d="{path}" fill="none" stroke="#c4262e" stroke-width="2"/>')
        biggest = max(n for _, _, n in points)
        for px, py, n in points:
            r = 2.5 + 6 * (n / biggest) ** 0.5
            body.append(f'<circle cx="{sx(px):.1f}" cy="{sy(py):.1f}" r="{r:.1f}" fill="#c4262e"><title>{n} answers</title></circle>')
    return _svg(body, title)


def confusion_matrix(matrix: Sequence[Sequence[int]], classes: Sequence[str], *, title: str) -> str:
    """A heat map of counts; rows are the human's class, columns the grader's."""
    m = np.asarray(matrix, dtype=float)
    k = len(classes)
    cell = min(90, 300 // max(k, 1))
    left, top = 130, 60
    width, height = left + k * cell + 20, top + k * cell + 50
    peak = m.max() if m.size and m.max() > 0 else 1.0
    body = []
    for i in range(k):
        for j in range(k):
            shade = m[i, j] / peak
            fill = f"rgb({int(255 - 200 * shade)},{int(255 - 150 * shade)},255)"
            x, y = left + j * cell, top + i * cell
            body.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}" stroke="#fff"/>')
            colour = "#fff" if shade > 0.6 else "#000"
            body.append(f'<text x="{x + cell / 2:.0f}" y="{y + cell / 2 + 4:.0f}" text-anchor="middle" {FONT} fill="{colour}">{int(m[i, j])}</text>')
        body.append(f'<text x="{left - 6}" y="{top + i * cell + cell / 2 + 4:.0f}" text-anchor="end" {FONT}>{escape(classes[i])}</text>')
        body.append(f'<text x="{left + i * cell + cell / 2:.0f}" y="{top - 6}" text-anchor="middle" {FONT}>{escape(classes[i])}</text>')
    body.append(f'<text x="{left + k * cell / 2:.0f}" y="{top + k * cell + 24}" text-anchor="middle" {FONT}>rows: human · columns: grader</text>')
    return _svg(body, title, width=max(width, 260), height=height)
