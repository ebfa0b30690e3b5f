"""Geometry of the super-admin console's charts: numbers only. templates/charts/ draws them as inline SVG, so the
admin needs no JavaScript or outside assets."""

from __future__ import annotations

BAR_ROW, BAR_LABEL_WIDTH, BAR_PAD = 26, 170, 8
COLUMN_BOTTOM, COLUMN_LEFT = 22, 34


def bar_chart(items: list[tuple[str, float, str]], *, title: str, width: int = 520) -> dict:
    """Horizontal bars: one (label, value, colour) per row, the value printed at the end of its bar."""
    top = max((value for _, value, _ in items), default=0) or 1
    bar_space = width - BAR_LABEL_WIDTH - 90
    rows = []
    for i, (label, value, colour) in enumerate(items):
        y = BAR_PAD // 2 + i * BAR_ROW
        bar_width = max(1, round(bar_space * float(value) / float(top))) if value else 0
        rows.append(
            {
                "label": label[:26],
                "value": value,
                "colour": colour,
                "text_y": y + 17,
                "bar_y": y + 4,
                "bar_width": bar_width,
                "value_x": BAR_LABEL_WIDTH + bar_width + 6,
            }
        )
    return {
        "title": title,
        "width": width,
        "height": max(1, len(items)) * BAR_ROW + BAR_PAD,
        "label_x": BAR_LABEL_WIDTH - 6,
        "bar_x": BAR_LABEL_WIDTH,
        "bar_height": BAR_ROW - 8,
        "rows": rows,
    }


def column_chart(
    columns: list[tuple[str, list[tuple[float, str]]]],
    *,
    title: str,
    decimals: int = 0,
    width: int = 620,
    height: int = 180,
) -> dict:
    """Vertical stacked columns: one (label, [(value, colour), ...]) per column, labels under every other one past
    16 columns. Values are shown with ``decimals`` places."""
    n = max(1, len(columns))
    top = max((sum(v for v, _ in stack) for _, stack in columns), default=0) or 1
    slot = (width - COLUMN_LEFT) / n
    base = height - COLUMN_BOTTOM
    plot_height = base - 8
    drawn = []
    for i, (label, stack) in enumerate(columns):
        x = COLUMN_LEFT + i * slot + slot * 0.15
        y = base
        segments = []
        for value, colour in stack:
            segment_height = plot_height * float(value) / float(top) if value else 0
            if segment_height:
                y -= segment_height
                segments.append(
                    {"y": round(y, 1), "height": round(segment_height, 1), "value": value, "colour": colour}
                )
        drawn.append(
            {
                "label": label,
                "x": round(x, 1),
                "label_x": round(x + slot * 0.35, 1),
                "show_label": n <= 16 or i % 2 == 0,
                "segments": segments,
            }
        )
    return {
        "title": title,
        "width": width,
        "height": height,
        "left": COLUMN_LEFT,
        "base": base,
        "label_y": height - 6,
        "column_width": round(slot * 0.7, 1),
        "top": top if decimals else int(top),
        "number_format": f"{decimals}g",
        "columns": drawn,
    }
