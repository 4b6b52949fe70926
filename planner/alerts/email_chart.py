"""Small PNG charts for alert emails, drawn with numpy and written with zlib (no plotting stack).

Email clients show neither JavaScript nor SVG reliably, so budget emails carry one PNG attached
inline (``cid:``). The drawing is deliberately plain: cumulative spend as a filled area, the
forecast as a dotted line to the period end, the budget as a red line, on a white card with a
light grid, so that it reads the same in light and dark mail clients (the card keeps its own
background). Shapes are drawn on a canvas `SUPERSAMPLE` times larger and averaged down, which
anti-aliases edges. Figures are never only in the image: the email's table states them.

Geometry (used by tests): the plot area is the canvas minus `PAD_PX`; day ``d`` of a period of
``n`` days sits at ``x = PAD_PX + d / (n - 1) · plot_width`` and ``y_usd`` at
``y = PAD_PX + (1 - y_usd / y_max) · plot_height`` with ``y_max = 1.12 · max(budget, forecast,
spend)``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

WIDTH_PX, HEIGHT_PX = 1120, 360  # shown at half size (560 × 180) for sharp high-density screens
PAD_PX = 24
SUPERSAMPLE = 2
HEADROOM_FACTOR = 1.12
BACKGROUND = (255, 255, 255)
GRID = (229, 231, 235)
SPEND_LINE = (17, 24, 39)
SPEND_FILL = (191, 219, 254)
FORECAST = (37, 99, 235)
BUDGET = (220, 38, 38)


@dataclass(frozen=True)
class PlotFrame:
    """Maps (day index, USD) to pixel coordinates of the final image."""

    days: int
    y_max_usd: float
    width_px: int = WIDTH_PX
    height_px: int = HEIGHT_PX

    def x(self, day: float) -> float:
        span = max(self.days - 1, 1)
        return PAD_PX + day / span * (self.width_px - 2 * PAD_PX)

    def y(self, usd: float) -> float:
        return PAD_PX + (1.0 - usd / self.y_max_usd) * (self.height_px - 2 * PAD_PX)


class _Canvas:
    def __init__(self, width: int, height: int, scale: int):
        self.scale = scale
        self.pixels = np.empty((height * scale, width * scale, 3), dtype=np.float32)
        self.pixels[:] = BACKGROUND
        rows, cols = self.pixels.shape[:2]
        self.yy, self.xx = np.mgrid[0:rows, 0:cols].astype(np.float32) + 0.5

    def fill_under(self, xs: Sequence[float], ys: Sequence[float], base_y: float, colour) -> None:
        """Fill between the polyline (xs, ys) and the horizontal line y = base_y."""
        s = self.scale
        cols = self.xx[0]
        x0, x1 = min(xs) * s, max(xs) * s
        top = np.interp(cols, np.asarray(xs) * s, np.asarray(ys) * s)
        inside = (self.yy >= top) & (self.yy <= base_y * s) & (self.xx >= x0) & (self.xx <= x1)
        self.pixels[inside] = colour

    def line(self, xs, ys, width: float, colour, dash: tuple[float, float] | None = None) -> None:
        """A polyline `width` pixels wide; `dash` = (on, off) lengths in pixels, or solid."""
        s = self.scale
        half = width * s / 2
        travelled = 0.0
        points = list(zip(xs, ys, strict=True))
        for (ax, ay), (bx, by) in itertools.pairwise(points):
            ax, ay, bx, by = ax * s, ay * s, bx * s, by * s
            lo_x, hi_x = int(max(min(ax, bx) - half - 1, 0)), int(max(ax, bx) + half + 2)
            lo_y, hi_y = int(max(min(ay, by) - half - 1, 0)), int(max(ay, by) + half + 2)
            px, py = self.xx[lo_y:hi_y, lo_x:hi_x], self.yy[lo_y:hi_y, lo_x:hi_x]
            dx, dy = bx - ax, by - ay
            length2 = dx * dx + dy * dy
            t = np.zeros_like(px) if length2 == 0 else ((px - ax) * dx + (py - ay) * dy) / length2
            t = np.clip(t, 0.0, 1.0)
            near = np.hypot(px - (ax + t * dx), py - (ay + t * dy)) <= half
            if dash is not None:
                on, off = dash[0] * s, dash[1] * s
                along = travelled + t * np.sqrt(length2)
                near &= (along % (on + off)) < on
            self.pixels[lo_y:hi_y, lo_x:hi_x][near] = colour
            travelled += float(np.sqrt(length2))

    def image(self) -> np.ndarray:
        s = self.scale
        h, w = self.pixels.shape[0] // s, self.pixels.shape[1] // s
        down = self.pixels.reshape(h, s, w, s, 3).mean(axis=(1, 3))
        return np.clip(np.rint(down), 0, 255).astype(np.uint8)


def encode_png(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of an (height, width, 3) uint8 array (filter 0 on every row)."""
    height, width, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[row].tobytes() for row in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def decode_png(data: bytes) -> np.ndarray:
    """Inverse of `encode_png` (only filter 0, 8-bit RGB), for tests and the notifications page."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, width, height, idat = 8, 0, 0, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if tag == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    rows = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + 3 * width)
    if rows[:, 0].any():
        raise ValueError("decode_png reads only PNGs written with filter 0")
    return rows[:, 1:].reshape(height, width, 3)


def budget_burn_frame(
    daily_usd: Sequence[float], period_days: int, amount_usd: float, forecast_usd: float
) -> PlotFrame:
    spend = float(np.sum(daily_usd)) if len(daily_usd) else 0.0
    top = max(amount_usd, forecast_usd, spend, 1.0) * HEADROOM_FACTOR
    return PlotFrame(days=period_days, y_max_usd=top)


def budget_burn_png(
    daily_usd: Sequence[float],
    period_start: dt.date,
    period_end: dt.date,
    amount_usd: float,
    forecast_usd: float,
) -> bytes:
    """Cumulative spend of the period's days so far (`daily_usd`, from `period_start`), a dotted
    line to `forecast_usd` at `period_end`, and the budget line at `amount_usd`; PNG bytes."""
    days = (period_end - period_start).days + 1
    frame = budget_burn_frame(daily_usd, days, amount_usd, forecast_usd)
    canvas = _Canvas(frame.width_px, frame.height_px, SUPERSAMPLE)
    for quarter in range(5):  # grid: quarters of the budget, and the period's weeks
        y = frame.y(amount_usd * quarter / 4)
        canvas.line([frame.x(0), frame.x(days - 1)], [y, y], 2, GRID)
    for week in range(0, days, 7):
        canvas.line([frame.x(week)] * 2, [frame.y(0), PAD_PX], 2, GRID)
    cumulative = np.cumsum(np.asarray(daily_usd, dtype=float))
    base = frame.y(0)
    if len(cumulative):
        xs = [frame.x(d) for d in range(len(cumulative))]
        ys = [frame.y(v) for v in cumulative]
        if len(xs) == 1:  # one day: draw it as a short step so the area is visible
            xs, ys = [xs[0] - 4, xs[0] + 4], [ys[0], ys[0]]
        canvas.fill_under(xs, ys, base, SPEND_FILL)
        last_day, last = len(cumulative) - 1, float(cumulative[-1])
        if last_day < days - 1:
            canvas.line(
                [frame.x(last_day), frame.x(days - 1)],
                [frame.y(last), frame.y(forecast_usd)],
                5,
                FORECAST,
                dash=(14, 10),
            )
        canvas.line(xs, ys, 5, SPEND_LINE)
    canvas.line([frame.x(0), frame.x(days - 1)], [frame.y(amount_usd)] * 2, 5, BUDGET)
    return encode_png(canvas.image())


SPARK_HEIGHT_PX = 200
EPISODE_FILL = (254, 226, 226)
SPARK_LINE = (17, 24, 39)
SPARK_EPISODE = (220, 38, 38)


def sparkline_frame(daily_usd: Sequence[float]) -> PlotFrame:
    top = max(max(daily_usd, default=0.0), 1.0) * HEADROOM_FACTOR
    return PlotFrame(days=len(daily_usd), y_max_usd=top, height_px=SPARK_HEIGHT_PX)


def sparkline_png(daily_usd: Sequence[float], episode: tuple[int, int]) -> bytes:
    """Daily cost as a line, the anomalous days (`episode`: first and last index, inclusive)
    shaded and drawn red; PNG bytes, same white-card look as `budget_burn_png`."""
    frame = sparkline_frame(daily_usd)
    canvas = _Canvas(frame.width_px, frame.height_px, SUPERSAMPLE)
    first, last = episode
    half_day = (frame.x(1) - frame.x(0)) / 2 if len(daily_usd) > 1 else 8
    left, right = frame.x(first) - half_day, frame.x(last) + half_day
    canvas.fill_under([left, right], [PAD_PX / 2, PAD_PX / 2], frame.y(0), EPISODE_FILL)
    canvas.line([frame.x(0), frame.x(len(daily_usd) - 1)], [frame.y(0)] * 2, 2, GRID)
    xs = [frame.x(d) for d in range(len(daily_usd))]
    ys = [frame.y(float(v)) for v in daily_usd]
    if len(xs) > 1:
        canvas.line(xs, ys, 4, SPARK_LINE)
        lo, hi = max(first - 1, 0), min(last + 1, len(xs) - 1)
        canvas.line(xs[lo : hi + 1], ys[lo : hi + 1], 5, SPARK_EPISODE)
    return encode_png(canvas.image())
