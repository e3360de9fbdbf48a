"""Where the time goes from a movement to the photon that shows it, per movement and overall.

A reactive movement's path: its **onset** (the EMG onset of an attempt, or the tracker sample
at which the intact limb's movement was classified) -> the **decision** (decoder or pose
classifier) -> the **planned onset** (decision + D, the presentation timestamp both the frame
and the stimulation aim at) -> the **photon** (the first frame showing it reaches the eye).
Which onset a path starts from is said per movement: the simulated patient's true onset when
the session has one; otherwise the tracker's sample (mirror) or the EMG onset estimated from
the session's envelope after the session (:mod:`mirrorvr.emg.onset`). Movements played from a
cue timeline have no reaction path (their onset is the plan).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mirrorvr.emg.onset import estimate_onset, onset_threshold_v
from mirrorvr.session.plan import PlannedMovement

#: A true onset counts for a decision made at most this long after it, s.
MATCH_WINDOW_S = 1.0
#: Which true onsets a source's decisions follow (by the source's kind: ``mirror:<tracker>``
#: is a ``mirror`` source).
TRUTH_KIND = {"decoder": "emg", "mirror": "intact_limb"}
#: The stretches of a path, in order: (name, start field, end field).
SEGMENTS = (("onset_to_decision", "onset_s", "detected_s"),
            ("decision_to_planned", "detected_s", "planned_s"),
            ("planned_to_photon", "planned_s", "photon_s"),
            ("onset_to_photon", "onset_s", "photon_s"))


def _latest_before(onsets: Sequence[tuple[float, str]], t_s: float
                   ) -> tuple[float, str] | None:
    """The latest ``(s, movement)`` at or before ``t_s`` and within :data:`MATCH_WINDOW_S`."""
    best = None
    for onset in onsets:
        if t_s - MATCH_WINDOW_S <= onset[0] <= t_s:
            best = onset
    return best


def movement_paths(movements: Sequence[PlannedMovement],
                   true_onsets: Sequence[tuple[float, str, str]] = (),
                   envelope: tuple[np.ndarray, np.ndarray] | None = None,
                   decoder=None) -> list[dict]:
    """One record per reactive movement (a decision behind it), session seconds.

    Parameters
    ----------
    movements : the plan's onsets
    true_onsets : ``(s, movement, kind)`` the simulated patient knows (kind "emg" or
        "intact_limb"); empty for a real patient
    envelope : ``(times_s, envelope_v)`` of the session's EMG (for estimated EMG onsets)
    decoder : the trained decoder (its rest and per-class maximum levels set the onset
        threshold); None: no EMG onset is estimated

    Each record: ``movement_id, movement, source``; ``onset_s`` and ``onset_from``
    (``"tracker sample"`` for a tracker's movement: the sample that first showed it, as the
    pose classifier saw it; else ``"true onset (simulated patient)"`` or ``"EMG onset
    (estimated)"``; None when none is known); ``true_movement`` and ``true_onset_s`` (what
    the patient really did and when it began, when known: for a tracked movement, before
    the sample in which the classifier recognised it), ``correct`` and ``first_decision``
    (False: the decision changed a movement already under way; its path starts at no
    onset); ``estimated_emg_onset_s``; ``detected_s``,
    ``planned_s``, ``photon_s``; each of :data:`SEGMENTS` in ms; ``asynchrony_ms``
    (predicted contraction minus photon).
    """
    by_kind: dict[str, list[tuple[float, str]]] = {}
    for t_s, movement, kind in sorted(true_onsets):
        by_kind.setdefault(kind, []).append((t_s, movement))
    paths = []
    answered: set[tuple[float, str]] = set()  # true onsets a decision already followed
    for m in sorted(movements, key=lambda m: (m.detected_s is None, m.detected_s or 0.0)):
        if m.detected_s is None:
            continue  # played from a timeline: no reaction path
        kind = TRUTH_KIND.get(m.source.split(":")[0], "")
        truth = _latest_before(by_kind.get(kind, ()), m.detected_s)
        first = truth is not None and truth not in answered
        if truth is not None:
            answered.add(truth)
        estimated = _estimated_emg_onset(m, envelope, decoder)
        true_onset_s = truth[0] if truth is not None and first else None
        if m.source_onset_s is not None:  # a tracker: the path starts at its sample
            onset_s, onset_from = m.source_onset_s, "tracker sample"
        elif truth is not None:  # a decision that changed a movement under way has no onset
            onset_s, onset_from = ((true_onset_s, "true onset (simulated patient)") if first
                                   else (None, None))
        elif estimated is not None:
            onset_s, onset_from = estimated, "EMG onset (estimated)"
        else:
            onset_s, onset_from = None, None
        record = {
            "movement_id": m.movement_id, "movement": m.movement, "source": m.source,
            "onset_s": onset_s, "onset_from": onset_from,
            "true_movement": None if truth is None else truth[1],
            "correct": None if truth is None else truth[1] == m.movement,
            # the first decision after the patient's onset (later ones changed it under way)
            "first_decision": None if truth is None else first,
            "true_onset_s": true_onset_s,
            "estimated_emg_onset_s": estimated, "tracker_sample_s": m.source_onset_s,
            "detected_s": m.detected_s, "planned_s": m.onset_s, "photon_s": m.photon_s,
        }
        for name, start, end in SEGMENTS:
            a, b = record[start], record[end]
            record[f"{name}_ms"] = None if a is None or b is None else round(1000 * (b - a), 3)
        asynchrony = m.asynchrony_s()
        record["asynchrony_ms"] = None if asynchrony is None else round(1000 * asynchrony, 3)
        paths.append(record)
    return paths


def _estimated_emg_onset(m: PlannedMovement, envelope, decoder) -> float | None:
    if m.source != "decoder" or envelope is None or decoder is None:
        return None
    top = decoder.model.max_mav_v_.get(m.movement)
    if top is None:
        return None
    times_s, values = envelope
    return estimate_onset(times_s, values, m.detected_s,
                          onset_threshold_v(decoder.model.rest_mav_v_, top))


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "p10": None, "median": None, "p90": None, "max": None}
    p10, p50, p90 = np.percentile(values, (10, 50, 90))
    return {"n": len(values), "p10": round(float(p10), 1), "median": round(float(p50), 1),
            "p90": round(float(p90), 1), "max": round(float(max(values)), 1)}


def latency_summary(paths: Sequence[dict]) -> dict:
    """Per source: how many decisions, where their onsets came from, how many first
    decisions were another movement than the patient's and how many changed a movement under
    way, and each segment's percentiles in ms (first, correct decisions only, when the truth
    is known). For the simulated patient the EMG onset estimate's error against the truth is
    given too."""
    out = {}
    for source in sorted({p["source"] for p in paths}):
        mine = [p for p in paths if p["source"] == source]
        counted = [p for p in mine if p["correct"] is not False
                   and p["first_decision"] is not False]
        entry = {
            "n": len(mine),
            "onset_from": sorted({p["onset_from"] for p in mine if p["onset_from"]}),
            "wrong_decisions": sum(p["correct"] is False and p["first_decision"] is True
                                   for p in mine),
            "changed_under_way": sum(p["first_decision"] is False for p in mine),
        }
        for name, _, _ in SEGMENTS:
            entry[f"{name}_ms"] = _percentiles(
                [p[f"{name}_ms"] for p in counted if p[f"{name}_ms"] is not None])
        errors = [1000 * (p["estimated_emg_onset_s"] - p["onset_s"]) for p in counted
                  if p["estimated_emg_onset_s"] is not None
                  and p["onset_from"] == "true onset (simulated patient)"]
        if errors:
            entry["emg_onset_estimate_error_ms"] = _percentiles(errors)
        out[source] = entry
    return out
