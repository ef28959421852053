"""Server-rendered trend charts: coordinates for an inline SVG (no JavaScript, prints, has a text alternative)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils.html import format_html
from django.utils.safestring import SafeString

from config.html import escaped_join
from kpis.registry import format_figure

WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 320, 120, 34, 8, 8, 18


@dataclass
class Point:
    day: date
    value: float | None
    x: float
    y: float | None
    url: str = ""
    label: str = ""


@dataclass
class Chart:
    points: list[Point]
    line: str
    target_y: float | None
    top: float
    top_label: str = ""
    desc: str = ""
    width: int = WIDTH
    height: int = HEIGHT
    left: int = PAD_LEFT
    bottom: int = HEIGHT - PAD_BOTTOM

    @property
    def points_html(self) -> SafeString:
        """The points as linked circles, escaped."""
        return escaped_join(
            '<a href="{}"><circle cx="{}" cy="{}" r="2.5"><title>{}</title></circle></a>',
            ((p.url, p.x, p.y, p.label) for p in self.points if p.y is not None),
        )

    def svg(self, key: str, name: str) -> SafeString:
        """The chart as an inline SVG figure, every value escaped. Written here rather than in a
        template: a dashboard draws one per KPI, and the template engine costs more than the page's
        queries. ``key`` names its title and description for ``aria-labelledby``; ``name`` is the title."""
        ends = (self.points[0], self.points[-1]) if self.points else ()
        first, last = [point.day.strftime("%m-%d") for point in ends] or ["", ""]
        target = (
            format_html('<line x1="{}" y1="{}" x2="{}" y2="{}" class="target"/>',
                        self.left, self.target_y, self.width, self.target_y)
            if self.target_y is not None else ""
        )  # fmt: skip
        return format_html(
            '<figure class="chart">'
            '<svg viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-{key}-title chart-{key}-desc" '
            'preserveAspectRatio="none">'
            '<title id="chart-{key}-title">{name}</title><desc id="chart-{key}-desc">{desc}</desc>'
            '<line x1="{left}" y1="{bottom}" x2="{width}" y2="{bottom}" class="axis"/>'
            '<text x="2" y="14" class="tick">{top_label}</text>{target}'
            '<path d="{line}" class="series"/>{points}'
            '<text x="{left}" y="{tick_y}" class="tick">{first}</text>'
            '<text x="{width}" y="{tick_y}" class="tick" text-anchor="end">{last}</text>'
            "</svg></figure>",
            width=self.width, height=self.height, key=key, name=name, desc=self.desc, left=self.left,
            bottom=self.bottom, top_label=self.top_label, target=target, line=self.line, points=self.points_html,
            tick_y=self.height - 3, first=first, last=last,
        )  # fmt: skip


def chart(
    series: list[tuple[date, float | None]], target: float | None, urls: list[str] | None = None, unit: str = "count"
) -> Chart:
    values = [v for _d, v in series if v is not None]
    top = max([*values, target or 0, 1e-9]) * 1.1
    usable_w, usable_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    step = usable_w / max(len(series) - 1, 1)

    def y(value: float) -> float:
        return round(PAD_TOP + usable_h * (1 - value / top), 1)

    urls = urls or [""] * len(series)
    points = [
        Point(
            day,
            value,
            round(PAD_LEFT + i * step, 1),
            y(value) if value is not None else None,
            urls[i],
            f"{day.isoformat()}: {format_figure(value, unit)}",
        )
        for i, (day, value) in enumerate(series)
    ]
    # Gaps (periods without data) break the line instead of drawing zero.
    segments, current = [], []
    for point in points:
        if point.y is None:
            if current:
                segments.append(current)
            current = []
        else:
            current.append(f"{point.x},{point.y}")
    if current:
        segments.append(current)
    line = " ".join("M" + " L".join(segment) for segment in segments)
    return Chart(
        points=points,
        line=line,
        target_y=y(target) if target is not None else None,
        top=top,
        top_label=format_figure(top, unit),
        desc="; ".join(point.label for point in points),
    )
