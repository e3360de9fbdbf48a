"""Reading a session's recording back: EMG in volts, markers, the dose log, the movement
plan, ratings and instrument results, and one list of timed events (blocks, cues,
movements seen, ratings, stimulation trains, emergency stops) for exports and reports.

Reads ``recording.xdf`` with pyxdf, the reference reader, so mirrorvr sees exactly what any
other tool sees.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mirrorvr.errors import RecordingError

logger = logging.getLogger(__name__)

#: The recording's stream of instrument results (written by mirrorvr.outcomes.record).
OUTCOME_STREAM = "outcomes"

#: Event types of :func:`events`, as written to BIDS ``_events.tsv`` (``trial_type``).
EVENT_TYPES = {
    "block": "a protocol block; value = block name",
    "cue": "a cue shown to the patient; value = the cue's text",
    "movement": "a movement of the virtual limb, from its first photon; value = movement class",
    "rating": "an outcome answered; value = instrument, timepoint and score",
    "stimulation": "an EMS pulse train sent (dose log); value = movement it accompanied",
    "emergency_stop": "all stimulation stopped by the patient or therapist",
}


@dataclass(frozen=True)
class Event:
    """One event: ``onset_s`` on the session clock, ``duration_s`` (0: instantaneous)."""

    onset_s: float
    duration_s: float
    trial_type: str
    value: str
    channel: int | None = None
    amplitude_ma: float | None = None


@dataclass
class SessionRecording:
    """What :func:`read_recording` found.

    Attributes
    ----------
    emg_t_s : (n_times,) float
        Session time of each EMG sample, s (empty without EMG).
    emg_v : (n_channels, n_times) float
        EMG in volts.
    channel_names : list of str
    sampling_rate_hz : float
        The EMG stream's nominal rate, Hz.
    markers : list of (t_s, text)
    stimulation : list of dict
        The dose log: every governor event (``kind`` sent/stopped/refused/..., ``detail``).
    movements : list of dict
        The movement plan's entries (detection, planned onset, first photon, asynchrony).
    frame_t_s : (n_frames,) float
        Photon time of each rendered frame, s.
    ratings : list of (t_s, value)
        The NRS ``ratings`` stream (recordings before instruments).
    outcome_results : list of dict
        The ``outcomes`` stream: one administered instrument each.
    header : dict
        The file header's fields (``datetime``, ``software``, ...).
    """

    emg_t_s: np.ndarray
    emg_v: np.ndarray
    channel_names: list[str]
    sampling_rate_hz: float
    markers: list[tuple[float, str]] = field(default_factory=list)
    stimulation: list[dict] = field(default_factory=list)
    movements: list[dict] = field(default_factory=list)
    frame_t_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ratings: list[tuple[float, float]] = field(default_factory=list)
    outcome_results: list[dict] = field(default_factory=list)
    header: dict = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return float(self.emg_t_s[-1] - self.emg_t_s[0]) if self.emg_t_s.size > 1 else 0.0


def read_recording(path: str | Path, *, emg: bool = True) -> SessionRecording:
    """Read a session recording (``emg=False`` skips the EMG samples: faster).

    Raises
    ------
    RecordingError
        If the file is missing or cannot be read.
    """
    import pyxdf

    path = Path(path)
    if not path.is_file():
        raise RecordingError(f"recording {str(path)!r} does not exist")
    wanted = ["markers", "stimulation", "movement_plan", "frames", "ratings",
              OUTCOME_STREAM] + (["EMG"] if emg else [])
    try:
        streams, header = pyxdf.load_xdf(str(path), select_streams=[{"name": n} for n in wanted],
                                         dejitter_timestamps=False)
    except (OSError, ValueError, EOFError) as err:
        raise RecordingError(f"recording {str(path)!r} cannot be read: {err}") from err
    by_name = {s["info"]["name"][0]: s for s in streams}
    rec = SessionRecording(np.zeros(0), np.zeros((0, 0)), [], 0.0)
    rec.header = {k: v[0] for k, v in header.get("info", {}).items() if v}
    if "EMG" in by_name:
        s = by_name["EMG"]
        channels = s["info"]["desc"][0]["channels"][0]["channel"]
        rec.channel_names = [c["label"][0] for c in channels]
        rec.sampling_rate_hz = float(s["info"]["nominal_srate"][0])
        rec.emg_t_s = np.asarray(s["time_stamps"], dtype=float)
        data = np.asarray(s["time_series"], dtype=np.float64)
        rec.emg_v = data.T if data.size else np.zeros((len(rec.channel_names), 0))
    if "markers" in by_name:
        s = by_name["markers"]
        rec.markers = [(float(t), row[0]) for t, row in zip(s["time_stamps"], s["time_series"],
                                                             strict=True)]
    if "stimulation" in by_name:
        rec.stimulation = [json.loads(row[0]) for row in by_name["stimulation"]["time_series"]]
    if "movement_plan" in by_name:
        rec.movements = [json.loads(row[0]) for row in by_name["movement_plan"]["time_series"]]
    if "frames" in by_name:
        rec.frame_t_s = np.asarray(by_name["frames"]["time_stamps"], dtype=float)
    if "ratings" in by_name:
        s = by_name["ratings"]
        rec.ratings = [(float(t), float(row[0])) for t, row in zip(s["time_stamps"],
                                                                    s["time_series"], strict=True)]
    if OUTCOME_STREAM in by_name:
        rec.outcome_results = [json.loads(row[0])
                               for row in by_name[OUTCOME_STREAM]["time_series"]]
    return rec


def blocks(markers: list[tuple[float, str]]) -> list[tuple[str, float, float | None]]:
    """(name, start_s, end_s) of every block from its ``block_start``/``block_end`` markers;
    ``end_s`` is None for a block that never ended (the session stopped in it)."""
    out: list[list] = []
    for t, text in markers:
        word, _, name = text.partition(" ")
        if word == "block_start":
            out.append([name, t, None])
        elif word == "block_end":
            for block in reversed(out):
                if block[0] == name and block[2] is None:
                    block[2] = t
                    break
    return [tuple(b) for b in out]


def _cues(markers, end_s: float) -> list[Event]:
    cues = [(t, text.removeprefix("cue ")) for t, text in markers if text.startswith("cue ")]
    out = []
    for k, (t, text) in enumerate(cues):
        next_t = cues[k + 1][0] if k + 1 < len(cues) else end_s
        out.append(Event(t, max(0.0, next_t - t), "cue", text))
    return out


def stimulation_trains(stimulation: list[dict]) -> list[dict]:
    """Every train sent, with how long it actually ran and why it stopped.

    Returns dicts with ``channel``, ``start_s``, ``duration_s``, ``amplitude_ma``,
    ``pulse_width_us``, ``frequency_hz``, ``movement``, ``cut_short`` (stopped before its
    planned end by the watchdog, an e-stop or a fault: SAFETY.md item 9) and ``reason``.
    """
    trains: list[dict] = []
    open_by_channel: dict[int, dict] = {}
    for event in stimulation:
        kind, channel, d = event.get("kind"), event.get("channel"), event.get("detail") or {}
        if kind == "sent":
            train = {"channel": channel, "start_s": d["start_s"], "duration_s": d["on_time_s"],
                     "amplitude_ma": d["amplitude_ma"], "pulse_width_us": d["pulse_width_us"],
                     "frequency_hz": d["frequency_hz"], "movement": d.get("movement", ""),
                     "cut_short": False, "reason": ""}
            trains.append(train)
            open_by_channel[channel] = train
        elif kind == "stopped" and channel in open_by_channel:
            train = open_by_channel.pop(channel)
            ran = d.get("stop_s", train["start_s"] + train["duration_s"]) - train["start_s"]
            if ran < train["duration_s"] - 1e-6:
                train["duration_s"] = max(0.0, ran)
                train["cut_short"] = True
                train["reason"] = d.get("reason", "")
    return trains


def events(rec: SessionRecording, outcomes: list | None = None) -> list[Event]:
    """Every event of the session in time order (see :data:`EVENT_TYPES`).

    ``outcomes`` (catalogue :class:`~mirrorvr.catalog.OutcomeInfo`) name the ratings; without
    them the recording's ``rating`` markers do.
    """
    end_s = float(rec.emg_t_s[-1]) if rec.emg_t_s.size else (
        rec.markers[-1][0] if rec.markers else 0.0)
    out = [Event(start, end - start, "block", name) for name, start, end in blocks(rec.markers)
           if end is not None]
    out += _cues(rec.markers, end_s)
    for m in rec.movements:
        if m.get("photon_s") is not None:
            out.append(Event(float(m["photon_s"]), 0.0, "movement", str(m.get("movement", ""))))
    if outcomes:
        for o in outcomes:
            shown = ", ".join(f"{k}={v:g}" for k, v in o.scores.items() if v is not None)
            out.append(Event(o.t_s, 0.0, "rating", f"{o.instrument} {o.timepoint} {shown}".strip()))
    else:
        out += [Event(t, 0.0, "rating", text.removeprefix("rating ")) for t, text in rec.markers
                if text.startswith("rating ")]
    for train in stimulation_trains(rec.stimulation):
        out.append(Event(train["start_s"], train["duration_s"], "stimulation",
                         train["movement"] + (" (cut short)" if train["cut_short"] else ""),
                         channel=train["channel"], amplitude_ma=train["amplitude_ma"]))
    out += [Event(t, 0.0, "emergency_stop", text.split(" ", 1)[-1]) for t, text in rec.markers
            if text.startswith("emergency_stop")]
    return sorted(out, key=lambda e: (e.onset_s, e.trial_type))


def check_emg(rec: SessionRecording, path: Path) -> None:
    """Raise :class:`RecordingError` unless the recording holds EMG to export."""
    if rec.emg_t_s.size < 2 or rec.sampling_rate_hz <= 0:
        raise RecordingError(f"recording {str(path)!r} holds no EMG samples to export")
    logger.debug("%s: %d EMG samples", path, rec.emg_t_s.size)
