"""Per-session metrics from the catalogue (summary, outcomes) and the recording (dose log):
one flat row per session, as the CSV export writes it and the report plots it."""

from __future__ import annotations

from mirrorvr.catalog import OutcomeInfo, SessionInfo
from mirrorvr.record.reader import SessionRecording, stimulation_trains

#: The columns of :func:`session_row` before the outcome scores, in order.
SESSION_COLUMNS = (
    "record_id", "session_id", "session_number", "course", "course_position",
    "planned_sessions", "protocol", "status", "started_at", "ended_at", "duration_s",
    "profile_version", "decoder_cv_accuracy", "decoder_classes",
    "motion_test_completion_rate", "motion_test_completion_time_s",
    "motion_test_realtime_accuracy", "tac_test_completion_rate",
    "tac_test_completion_time_s", "tac_test_path_efficiency_pct", "ems_sent", "ems_refused",
    "ems_late", "ems_blocked", "ems_emergency_stops", "stim_trains", "stim_trains_cut_short",
    "stim_on_time_s", "presentation_delay_ms", "asynchrony_n", "asynchrony_median_ms",
    "asynchrony_p99_abs_ms", "frames_mean_fps",
)


def stimulation_dose(stimulation: list[dict]) -> dict[int, dict]:
    """Per stimulator channel: trains sent, trains cut short, total on-time (s), the
    highest amplitude (mA) and the number of pulses delivered (on-time x rate)."""
    dose: dict[int, dict] = {}
    for train in stimulation_trains(stimulation):
        d = dose.setdefault(int(train["channel"]), {
            "trains": 0, "cut_short": 0, "on_time_s": 0.0, "max_amplitude_ma": 0.0,
            "pulses": 0})
        d["trains"] += 1
        d["cut_short"] += int(train["cut_short"])
        d["on_time_s"] += train["duration_s"]
        d["max_amplitude_ma"] = max(d["max_amplitude_ma"], float(train["amplitude_ma"]))
        d["pulses"] += int(round(train["duration_s"] * train["frequency_hz"]))
    return dict(sorted(dose.items()))


def _get(d: dict | None, *keys):
    for key in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def score_columns(outcomes: list[OutcomeInfo]) -> dict[str, float | None]:
    """``<instrument>_<score>[_<timepoint>]`` -> value, one per outcome score."""
    out = {}
    for o in outcomes:
        for score, value in o.scores.items():
            key = f"{o.instrument}_{score}" + (f"_{o.timepoint}" if o.timepoint else "")
            out[key] = value
    return out


def session_row(session: SessionInfo, number: int, outcomes: list[OutcomeInfo],
                recording: SessionRecording | None = None) -> dict:
    """The flat metrics of one session (:data:`SESSION_COLUMNS`, then outcome scores).

    ``number`` is the session's 1-based place among the patient's sessions.
    """
    s = session.summary or {}
    trains = stimulation_trains(recording.stimulation) if recording is not None else []
    delay = s.get("presentation_delay_s")
    row = {
        "record_id": session.pseudonym, "session_id": session.id, "session_number": number,
        "course": session.course, "course_position": session.course_position,
        "planned_sessions": session.planned_sessions, "protocol": session.protocol,
        "status": session.status, "started_at": session.started_at.isoformat(),
        "ended_at": None if session.ended_at is None else session.ended_at.isoformat(),
        "duration_s": s.get("duration_s"), "profile_version": session.profile_version,
        "decoder_cv_accuracy": _get(s, "decoder", "cv_accuracy"),
        "decoder_classes": len(_get(s, "decoder", "classes") or []) or None,
        "motion_test_completion_rate": _get(s, "motion_test", "summary", "completion_rate"),
        "motion_test_completion_time_s": _get(s, "motion_test", "summary",
                                              "completion_time_s"),
        "motion_test_realtime_accuracy": _get(s, "motion_test", "summary",
                                              "realtime_accuracy"),
        "tac_test_completion_rate": _get(s, "tac_test", "summary", "completion_rate"),
        "tac_test_completion_time_s": _get(s, "tac_test", "summary", "completion_time_s"),
        "tac_test_path_efficiency_pct": _get(s, "tac_test", "summary", "path_efficiency_pct"),
        "ems_sent": _get(s, "ems", "sent"), "ems_refused": _get(s, "ems", "refused"),
        "ems_late": _get(s, "ems", "late"), "ems_blocked": _get(s, "ems", "blocked"),
        "ems_emergency_stops": _get(s, "ems", "emergency_stops"),
        "stim_trains": len(trains) if recording is not None else None,
        "stim_trains_cut_short": sum(t["cut_short"] for t in trains)
        if recording is not None else None,
        "stim_on_time_s": round(sum(t["duration_s"] for t in trains), 4)
        if recording is not None else None,
        "presentation_delay_ms": None if delay is None else round(1000 * delay, 2),
        "asynchrony_n": _get(s, "asynchrony", "n"),
        "asynchrony_median_ms": _get(s, "asynchrony", "median_ms"),
        "asynchrony_p99_abs_ms": _get(s, "asynchrony", "p99_abs_ms"),
        "frames_mean_fps": _get(s, "frames", "mean_fps"),
    }
    row.update(score_columns(outcomes))
    return row
