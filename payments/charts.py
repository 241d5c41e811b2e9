"""The geometry of the auditors' charts, drawn by the templates as inline SVG: readable without
JavaScript, printable, and a few hundred bytes per series. Pure functions of report data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

TENTH = Decimal("0.1")


def histogram(bins: list[dict[str, Any]], floor: str) -> dict[str, Any]:
    """Bars of the effective-hourly histogram in a 600x200 box, and where the floor falls."""
    if not bins:
        return {}
    width, height, pad = 600, 200, 20
    top = max(b["count"] for b in bins) or 1
    step = (width - 2 * pad) / len(bins)
    span = Decimal(bins[-1]["to"])
    bars = []
    for i, b in enumerate(bins):
        h = (height - 2 * pad) * b["count"] / top
        bars.append(
            {
                "x": round(pad + i * step, 1),
                "y": round(height - pad - h, 1),
                "w": round(step - 2, 1),
                "h": round(h, 1),
                "label": f"{b['from']} to {b['to']}: {b['count']}",
                "count": b["count"],
            }
        )
    floor_x = (pad + (width - 2 * pad) * Decimal(floor) / span).quantize(TENTH) if span else pad
    every = max(1, len(bins) // 8)  # at most about eight labels under the bars
    ticks = [
        {"x": round(pad + i * step, 1), "label": b["from"]}
        for i, b in enumerate(bins)
        if i % every == 0
    ] + [{"x": width - pad, "label": str(span)}]
    return {
        "bars": bars,
        "floor_x": floor_x,
        "width": width,
        "height": height + 14,
        "base": height - pad + 4,
        "max": span,
        "ticks": ticks,
    }


def day_grid(rows: list[dict[str, Any]], limit_hours: str, *, max_days: int = 62) -> dict:
    """Hours per day per pseudonym as a grid: one row per pseudonym, one column per day, each
    cell shaded by the hours worked, red past the daily limit (with its figure in its title)."""
    if not rows:
        return {}
    days = sorted({r["day"] for r in rows})[-max_days:]
    names = sorted({r["pseudonym"] for r in rows})
    limit = Decimal(limit_hours) or Decimal(8)
    label_w, cell_h, top = 130, 24, 22
    cell_w = max(6, min(44, (760 - label_w) // len(days)))
    column = {d: i for i, d in enumerate(days)}
    line = {n: i for i, n in enumerate(names)}
    cells = []
    for r in rows:
        if r["day"] not in column:
            continue
        hours = Decimal(r["hours"])
        over = hours > limit
        # Lightness falls from 92% (nothing) to 35% (the limit); past the limit the cell is red.
        light = 35 if over else int(92 - 57 * min(hours / limit, Decimal(1)))
        cells.append(
            {
                "x": label_w + column[r["day"]] * cell_w,
                "y": top + line[r["pseudonym"]] * cell_h,
                "fill": "#b3261e" if over else f"hsl(212,45%,{light}%)",
                "over": over,
                "label": f"{r['pseudonym']} {r['day']}: {r['hours']} h "
                f"({r.get('sensitive_hours', '0.00')} h sensitive)",
            }
        )
    every = 1 if cell_w >= 18 else 7  # a day number per column, or one a week when narrow
    columns = [
        {"x": label_w + i * cell_w + cell_w // 2, "label": d[8:10] if i else d[5:10]}
        for i, d in enumerate(days)
        if i % every == 0
    ]
    return {
        "columns": columns,
        "cells": cells,
        "cell_w": cell_w - 1,
        "cell_h": cell_h - 2,
        "names": [{"name": n, "y": top + i * cell_h + cell_h - 8} for i, n in enumerate(names)],
        "first_day": days[0],
        "last_day": days[-1],
        "days": len(days),
        "width": label_w + len(days) * cell_w + 4,
        "height": top + len(names) * cell_h + 4,
        "limit": limit_hours,
    }


def bars(values: dict[str, str], unit: str = "h") -> dict[str, Any]:
    """Horizontal bars, one per key (sensitive hours per category), longest at the top."""
    if not values:
        return {}
    items = sorted(((k, Decimal(v)) for k, v in values.items()), key=lambda kv: (-kv[1], kv[0]))
    top = max(v for _k, v in items) or Decimal(1)
    label_w, bar_h, width = 150, 22, 600
    span = width - label_w - 70
    return {
        "bars": [
            {
                "label": k,
                "value": f"{v} {unit}",
                "y": 4 + i * bar_h,
                "w": max(1, int(span * v / top)),
                "text_y": 4 + i * bar_h + bar_h - 8,
            }
            for i, (k, v) in enumerate(items)
        ],
        "label_w": label_w,
        "bar_h": bar_h - 6,
        "width": width,
        "height": 8 + len(items) * bar_h,
    }
