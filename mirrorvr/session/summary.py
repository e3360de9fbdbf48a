"""The figures a session reports at its end (printed by the CLI, saved as summary.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mirrorvr.session.context import KnowsTrueOnsets
from mirrorvr.session.latency import latency_summary, movement_paths
from mirrorvr.session.plan import PlannedMovement
from mirrorvr.session.ports import ReportsRenderStats


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


def percentiles_ms(values_ms) -> dict:
    """n, median, 95th and 99th percentile and maximum of ``values_ms`` (ms)."""
    values = np.asarray(values_ms, dtype=float)
    if values.size == 0:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
    p50, p95, p99 = np.percentile(values, (50, 95, 99))
    return {"n": int(values.size), "p50": round(float(p50), 2), "p95": round(float(p95), 2),
            "p99": round(float(p99), 2), "max": round(float(values.max()), 2)}


def interval_percentiles_ms(times_s) -> dict:
    """Percentiles of the intervals between consecutive times (e.g. frame swaps), ms."""
    return percentiles_ms(np.diff(np.asarray(times_s, dtype=float)) * 1000.0)


def session_summary(runner) -> dict:
    """The figures of a finished session (:class:`~mirrorvr.session.runner.SessionRunner`)."""
    p, ctx, presenter = runner.p, runner.ctx, runner.presenter
    elapsed = runner.t_end_s - runner.t_start_s
    stim = runner.stimulation
    by_kind: dict[str, dict] = {}
    for block in runner.blocks:
        if block.name in ctx.results:
            by_kind.setdefault(block.kind, ctx.results[block.name])
    frames = presenter.frames if presenter is not None else 0
    summary = {
        "session_dir": str(p.session_dir),
        "recording": str(Path(p.session_dir) / "recording.xdf"),
        "protocol": p.protocol,
        "limb": runner.texts.limb,
        "clock": "real" if p.loop.realtime else "simulated",
        "ended": runner.end_reason,
        "duration_s": round(elapsed, 3),
        "blocks": [b.name for b in runner.blocks],
        "results": dict(ctx.results),
        "decoder": by_kind.get("calibration"),
        "frames": {
            "rendered": frames,
            "mean_fps": round(frames / elapsed, 2) if elapsed > 0 else 0.0,
            "width": runner.cfg.render.width,
            "height": runner.cfg.render.height,
            "headless": bool(p.window.headless),
            "interval_ms": interval_percentiles_ms(
                presenter.swap_times_s if presenter is not None else []),
            "renderer": p.renderer.render_stats()
            if isinstance(p.renderer, ReportsRenderStats) else None,
        },
        "watchdog": {
            "timeout_s": p.watchdog.timeout_s,
            "trips": len(p.watchdog.fired_at_s),
            "trip_times_s": [round(t, 4) for t in p.watchdog.fired_at_s],
        },
        "ems": stim.summary(runner.stim_state_at_end, runner.estops),
        "presentation_delay_s": round(runner.presentation_delay_s, 4),
        "latency": _latency(runner),
        "movements_seen": sum(1 for m in runner.plan.movements if m.photon_s is not None),
        # SAFETY.md 9: a movement whose train was cut short is not counted as in sync
        "asynchrony": asynchrony_stats_ms([m for m in runner.plan.movements
                                           if not stim.cut_short(m)]),
        "acquisition_gaps": _acquisition_gaps(runner),
        "signal_quality": runner.quality.summary(),
        "ratings": {r["name"]: r["value"] for r in ctx.results.values()
                    if isinstance(r, dict) and "instrument" in r and "value" in r},
        "motion_test": by_kind.get("motion_test"),
        "tac_test": by_kind.get("tac_test"),
    }
    if summary["decoder"] is not None:
        summary["ems"]["pulses_blanked_from_calibration"] = summary["decoder"]["pulses_blanked"]
    if runner.video_summary is not None:
        summary["video"] = {k: (str(v) if isinstance(v, Path) else v)
                            for k, v in runner.video_summary.items()}
    return summary


def _latency(runner) -> dict:
    """D per block, the stimulation rise and what the other rise would make D, and every
    reactive movement's path (:mod:`mirrorvr.session.latency`)."""
    truth = [o for obs in runner.p.observers if isinstance(obs, KnowsTrueOnsets)
             for o in obs.true_onsets()]
    paths = movement_paths(runner.plan.movements, truth, runner.envelope.envelope(),
                           runner.ctx.decoder)
    stim = runner.stimulation
    out = {"presentation_delay_s": {k: round(v, 4)
                                    for k, v in runner.presentation_delays.items()}}
    if stim.armed:
        two_slope = runner.cfg.stim.fast_rise_below_motor_threshold
        out["stimulation_rise"] = ("two-slope (fast below the motor threshold)" if two_slope
                                   else "plain comfort ramp from zero")
        out["stimulation_path_ms"] = round(1000 * stim.path_latency_s(), 1)
        out["stimulation_path_other_rise_ms"] = round(
            1000 * stim.path_latency_s(fast_rise=not two_slope), 1)
    out["by_source"] = latency_summary(paths)
    out["movements"] = paths
    return out


def _acquisition_gaps(runner) -> list[dict]:
    """Every stretch without EMG the session saw, with the board's own account of the
    losses it bridged by reconnecting (reason, attempts) where one overlaps."""
    source = runner.p.emg_source
    gaps = [g.to_dict(source.sampling_rate_hz) for g in runner.stream_watch.gaps]
    for board_gap in source.gaps:
        seen = next((g for g in gaps if g["start_s"] <= board_gap.end_s
                     and (g["end_s"] is None or g["end_s"] >= board_gap.start_s)), None)
        if seen is None:
            gaps.append({"start_s": board_gap.start_s, "detected_s": None,
                         "end_s": board_gap.end_s, "reason": board_gap.reason,
                         "duration_s": board_gap.duration_s,
                         "missing_samples": board_gap.missing_samples})
            continue
        seen["reason"] = board_gap.reason
        seen["reconnection_attempts"] = board_gap.attempts
    return sorted(gaps, key=lambda g: g["start_s"])


def write_summary(summary: dict, session_dir: Path) -> Path:
    path = Path(session_dir) / "summary.json"
    path.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


#: What can become of a stimulation command, in the order the summary lists them.
EMS_COUNTS = ("sent", "refused", "late", "blocked", "skipped")


def _trains_row(ems: dict) -> str:
    """Delivered and cut-short trains (SAFETY.md 9): a cut train is never counted as sent."""
    if "delivered" not in ems:
        return "-"
    text = f"{ems['delivered']} delivered, {ems['cut_short']} cut short"
    cut = ems.get("cut_short_trains") or []
    if cut:
        text += " (" + ", ".join(
            f"ch{t['channel']} {t['reason']} after {1000 * t['actual_s']:.0f} of "
            f"{1000 * t['planned_s']:.0f} ms" for t in cut[:3])
        text += f", +{len(cut) - 3} more)" if len(cut) > 3 else ")"
    held = ems.get("held_by_safety_gate") or {}
    if held:
        text += "; held back: " + ", ".join(f"{n} ({why})" for why, n in held.items())
    return text


def _interval_row(interval: dict | None) -> str:
    if not interval or not interval.get("n"):
        return "-"
    return (f"median {interval['p50']:.1f} ms, p95 {interval['p95']:.1f} ms, "
            f"p99 {interval['p99']:.1f} ms, max {interval['max']:.1f} ms")


def _delay_row(summary: dict) -> str:
    """D, and with stimulation what the rise costs: the plain ramp makes every reactive
    movement wait for it (SAFETY.md 6)."""
    latency = summary.get("latency") or {}
    text = f"{1000 * summary['presentation_delay_s']:.0f} ms"
    rise = latency.get("stimulation_rise")
    if rise is None:
        return text
    now, other = latency["stimulation_path_ms"], latency["stimulation_path_other_rise_ms"]
    if rise.startswith("plain"):
        return (f"{text} with stimulation ({rise}: the two-slope rise would need "
                f"{now - other:.0f} ms less)")
    return f"{text} with stimulation ({rise}; the plain ramp would add {other - now:.0f} ms)"


def _path_row(entry: dict) -> str:
    """Median reaction path of one source: onset -> decision -> planned -> photon."""
    def ms(name: str) -> str:
        value = entry[f"{name}_ms"]["median"]
        return "-" if value is None else f"{value:.0f}"

    onset = " / ".join(entry["onset_from"]) or "no onset known"
    text = (f"median {ms('onset_to_photon')} ms from the onset ({onset}): decision "
            f"{ms('onset_to_decision')}, D {ms('decision_to_planned')}, frame "
            f"{ms('planned_to_photon')} ms; n = {entry['n']}")
    if entry["wrong_decisions"]:
        text += f", {entry['wrong_decisions']} first decided as another movement"
    if entry["changed_under_way"]:
        text += f", {entry['changed_under_way']} changes under way"
    return text


def _watchdog_row(watchdog: dict | None) -> str:
    if watchdog is None:
        return "-"
    return f"{watchdog['trips']} (timeout {1000 * watchdog['timeout_s']:.0f} ms)"


def _realtime_test_row(s: dict) -> str:
    """One line of a Motion Test or TAC test summary (REFERENCES.md's measures)."""
    def value(key: str, fmt: str, scale: float = 1.0) -> str:
        return "-" if s.get(key) is None else format(scale * s[key], fmt)

    text = f"{100 * s['completion_rate']:.0f} % of {s['n_trials']} trials completed"
    text += f", completion time {value('completion_time_s', '.2f')} s"
    if "realtime_accuracy" in s:
        text += f", real-time accuracy {value('realtime_accuracy', '.0f', 100)} %"
    if "path_efficiency_pct" in s:
        text += f", path efficiency {value('path_efficiency_pct', '.0f')} %"
    return text


def _tracking_row(block: str, r: dict) -> str:
    """A mirror block's tracker: "mirror_1 lsl:glove median 44 ms (p95 52), 1 gap"."""
    stats = r["sample_to_photon_ms"]
    text = f"{block} {r['intact_limb_source']} "
    text += (f"median {stats['p50']:.0f} ms (p95 {stats['p95']:.0f})" if stats["n"]
             else "never tracked")
    gaps = r.get("tracking_gaps", 0)
    return text + (f", {gaps} gap{'s' if gaps != 1 else ''}" if gaps else "")


def format_summary(summary: dict) -> str:
    """The human-readable end-of-session summary."""
    dec, ems, asy = summary.get("decoder"), summary["ems"], summary["asynchrony"]
    frames, ratings = summary["frames"], summary["ratings"]
    if dec:
        n = len(dec["classes"])
        accuracy = f"{100 * dec['cv_accuracy']:.1f} % cross-validated ({n} classes, "
        accuracy += f"chance {100 / n:.0f} %)"
    else:
        accuracy = "not trained"
    where = "headless" if frames["headless"] else "window"
    size = f"{frames['width']}x{frames['height']}"
    if asy["n"]:
        asynchrony = f"median {asy['median_ms']:+.1f} ms, p99 |.| {asy['p99_abs_ms']:.1f} ms"
        asynchrony += f" (n = {asy['n']})"
    else:
        asynchrony = "no stimulated movement was seen"
    rows = [
        ("ended", summary.get("ended") or "-"),
        ("recording", summary["recording"]),
        ("duration", f"{summary['duration_s']:.1f} s ({summary['clock']} clock)"),
        ("decoder accuracy", accuracy),
        ("decoder model", (dec or {}).get("model_file") or "not saved"),
        ("frames rendered",
         f"{frames['rendered']} ({frames['mean_fps']:.1f} frames/s, {size}, {where})"),
        ("frame interval", _interval_row(frames.get("interval_ms"))),
        ("watchdog trips", _watchdog_row(summary.get("watchdog"))),
        ("EMS commands", ", ".join(f"{ems.get(k, 0)} {k}" for k in EMS_COUNTS)
         + f" ({ems['state']})"),
        ("EMS trains", _trains_row(ems)),
        ("presentation delay", _delay_row(summary)),
        ("visual-EMS asynchrony", asynchrony),
        ("pain (NRS 0-10)", f"before {ratings.get('pre', '-')}, after {ratings.get('post', '-')}"),
    ]
    for source, entry in (summary.get("latency") or {}).get("by_source", {}).items():
        kind, _, tracker = source.partition(":")  # "decoder", "mirror:<tracker>"
        rows.append((f"{kind} -> photon", (f"{tracker}: " if tracker else "")
                     + _path_row(entry)))
    gaps = summary.get("acquisition_gaps") or []
    if gaps:
        rows.append(("EMG gaps", "; ".join(
            f"{g['reason']} from {g['start_s']:.2f} s"
            + (f" for {g['duration_s']:.2f} s" if g.get("duration_s") is not None
               else " to the end") for g in gaps)))
    quality = summary.get("signal_quality")
    if quality is not None:
        bad = [f"{ch} " + ", ".join(f"{p} {100 * share:.0f} %" for p, share in
                                    info["problems"].items())
               for ch, info in quality["channels"].items()]
        rows.append(("EMG signal quality",
                     "; ".join(bad) + " of checks" if bad
                     else f"every channel ok ({quality['checks']} checks)"))
    outcomes = [f"{r['instrument']} {r['timepoint']} " + " ".join(
        f"{k}={v:g}" for k, v in r["scores"].items() if v is not None)
        for r in summary.get("results", {}).values()
        if isinstance(r, dict) and "scores" in r and r.get("instrument") != "nrs"]
    if outcomes:
        rows.append(("outcomes", "; ".join(outcomes)))
    catalogue = summary.get("catalogue")
    if catalogue:
        place = (f"course {catalogue['course']}, session {catalogue['course_position']} of "
                 f"{catalogue['planned_sessions']}" if catalogue["course"]
                 else f"session {catalogue['course_position']} of this protocol (no course)")
        failed = catalogue.get("failed_writes")
        rows.append(("catalogue", f"session {catalogue['session_id']}: {place}"
                     + (f"; {failed} writes failed (see the log)" if failed else "")))
    tracked = [(name, r) for name, r in summary["results"].items()
               if isinstance(r, dict) and "sample_to_photon_ms" in r]
    if tracked:
        rows.append(("tracker to photon", "; ".join(_tracking_row(name, r) for name, r in tracked)))
    for key, label in (("motion_test", "Motion Test"), ("tac_test", "TAC test")):
        if summary.get(key):
            rows.append((label, _realtime_test_row(summary[key]["summary"])))
    if summary.get("frames_saved"):
        folder = str(Path(summary["frames_saved"][0]).parent)
        rows.append(("frames saved", f"{len(summary['frames_saved'])} PNG in {folder}"))
    if summary.get("contact_sheet"):
        rows.append(("contact sheet", summary["contact_sheet"]))
    return "\n".join(["", "mirrorvr session summary"] + [f"  {k:<22} {v}" for k, v in rows])
