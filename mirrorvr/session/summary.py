"""The figures a session reports at its end (printed by the CLI, saved as summary.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mirrorvr.session.plan import PlannedMovement


def asynchrony_stats_ms(movements: list[PlannedMovement]) -> dict:
    """Distribution of predicted contraction onset minus first photon time, ms.

    Only movements that were both seen and stimulated count. Positive means the felt
    contraction started after the seen movement.
    """
    values = np.array([a for m in movements if (a := m.asynchrony_s()) is not None]) * 1000.0
    if values.size == 0:
        return {"n": 0, "median_ms": None, "p99_abs_ms": None, "min_ms": None, "max_ms": None}
    return {
        "n": int(values.size),
        "median_ms": round(float(np.median(values)), 3),
        "p99_abs_ms": round(float(np.percentile(np.abs(values), 99)), 3),
        "min_ms": round(float(values.min()), 3),
        "max_ms": round(float(values.max()), 3),
    }


def write_summary(summary: dict, session_dir: Path) -> Path:
    path = Path(session_dir) / "summary.json"
    path.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def format_summary(summary: dict) -> str:
    """The human-readable end-of-session summary."""
    dec = summary.get("decoder") or {}
    ems = summary["ems"]
    asy = summary["asynchrony"]
    ratings = summary["ratings"]
    lines = [
        "",
        "mirrorvr session summary",
        f"  recording            {summary['recording']}",
        f"  duration             {summary['duration_s']:.1f} s ({summary['clock']} clock)",
        "  decoder accuracy     "
        + (f"{100 * dec['cv_accuracy']:.1f} % cross-validated ({len(dec['classes'])} classes, chance "
           f"{100 / len(dec['classes']):.0f} %)" if dec else "not trained"),
        f"  frames rendered      {summary['frames']['rendered']} "
        f"({summary['frames']['mean_fps']:.1f} frames/s, {summary['frames']['width']}x{summary['frames']['height']},"
        f" {'headless' if summary['frames']['headless'] else 'window'})",
        f"  EMS commands         {ems['sent']} sent, {ems['refused']} refused, {ems['late']} late, "
        f"{ems['skipped']} skipped ({ems['state']})",
        f"  presentation delay   {1000 * summary['presentation_delay_s']:.0f} ms",
    ]
    if asy["n"]:
        lines.append(
            f"  visual-EMS asynchrony median {asy['median_ms']:+.1f} ms, p99 |.| {asy['p99_abs_ms']:.1f} ms "
            f"(n = {asy['n']})"
        )
    else:
        lines.append("  visual-EMS asynchrony no stimulated movement was seen")
    lines.append(f"  pain (NRS 0-10)      before {ratings.get('pre', '-')}, after {ratings.get('post', '-')}")
    if summary.get("frames_saved"):
        lines.append(f"  frames saved         {summary['frames_saved']}")
    return "\n".join(lines)
