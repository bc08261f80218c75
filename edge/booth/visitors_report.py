"""`emoticon-mirror stats`: the visitor counts as an hour-by-hour table and a PNG chart.

Reads the file the running mirror writes (edge/booth/visitors.py) without touching it, so it is safe to run
while the service counts.
"""
from __future__ import annotations

import time
from pathlib import Path

from edge.booth.visitors import Hour, load

HOUR_S = 3600


MIN_HOURS = 12  # a chart shows at least half a day, so one busy hour is a bar among hours, not a wall


def hour_range(hours: dict[str, Hour], last: int, at_least: int = 1) -> list[tuple[str, Hour]]:
    """Every hour from the first to the last with counts (empty hours included, so the chart's
    x axis is time): at most the `last` ones, at least `at_least` (earlier empty hours added)."""
    if not hours:
        return []
    keys = sorted(hours)

    def epoch(k: str) -> float:
        return time.mktime(time.strptime(k, "%Y-%m-%dT%H"))

    end = epoch(keys[-1])
    start = max(min(epoch(keys[0]), end - (min(at_least, last) - 1) * HOUR_S), end - (last - 1) * HOUR_S)
    out, t = [], start
    while t <= end + 1:
        k = time.strftime("%Y-%m-%dT%H", time.localtime(t))
        if not out or out[-1][0] != k:  # a DST change repeats or skips an hour: no duplicates
            out.append((k, hours.get(k, Hour())))
        t += HOUR_S
    return out


def _mix(h: Hour, top: int = 3) -> str:
    total = sum(h.expressions.values())
    if total <= 0:
        return "-"
    parts = sorted(h.expressions.items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{name} {100 * s / total:.0f}%" for name, s in parts)


def table(rows: list[tuple[str, Hour]]) -> str:
    lines = [f"{'hour':<16} {'people':>6} {'mean stay':>9} {'longest':>8} {'snapshots':>9}  expressions (share of time)"]
    total = Hour()
    for key, h in rows:
        if h.people == 0 and h.snapshots == 0:
            continue
        mean = f"{h.seconds / h.people:.1f} s" if h.people else "-"
        lines.append(f"{key.replace('T', ' ')}:00 {h.people:>6} {mean:>9} {h.longest_s:>6.1f} s {h.snapshots:>9}  {_mix(h)}")
        total.people += h.people
        total.seconds += h.seconds
        total.longest_s = max(total.longest_s, h.longest_s)
        total.snapshots += h.snapshots
        for name, s in h.expressions.items():
            total.expressions[name] = total.expressions.get(name, 0.0) + s
    mean = f"{total.seconds / total.people:.1f} s" if total.people else "-"
    lines.append(f"{'total':<16} {total.people:>6} {mean:>9} {total.longest_s:>6.1f} s {total.snapshots:>9}  {_mix(total)}")
    return "\n".join(lines)


def report(path: Path, chart: Path | None, last_hours: int = 72) -> str:
    """The table for the counts in `path`; also writes the chart PNG when `chart` is given."""
    hours = load(path)
    rows = hour_range(hours, last_hours)
    if chart is not None:
        from edge.atomic import save_picture
        from edge.booth.chart import draw_chart

        try:
            chart.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OSError(f"{chart}: cannot write ({e.strerror or e})") from None
        shown = hour_range(hours, last_hours, MIN_HOURS) or [(time.strftime("%Y-%m-%dT%H"), Hour())]
        save_picture(draw_chart(shown), chart)
    if not rows:
        return f"no visitors counted yet in {path}"
    return table(rows)
