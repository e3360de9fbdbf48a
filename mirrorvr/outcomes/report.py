"""One self-contained HTML report of a patient's course (``mirrorvr report PATIENT``).

Sections (``<section id=...>``): ``pain`` (NRS, VAS and PRI per session against the
IMMPACT bands: >= 30 % reduction from baseline = moderate, >= 50 % = substantial; BPI
interference, the episode diary and PGIC where they were asked), ``decoder`` (cross-
validated accuracy and confusion per session), ``realtime-tests`` (Motion Test, TAC
test), ``stimulation`` (dose per channel per session, from the recordings' dose logs),
``adherence`` (sessions done against planned), ``latency`` (presentation delay and
visual-EMS asynchrony per session). Plots are drawn with matplotlib's Agg backend and
embedded as PNG data URIs; the page loads nothing from anywhere, so it opens offline.

The baseline of the change bands is the patient's first session's ``pre`` value.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import mirrorvr
from mirrorvr.catalog import Catalog, OutcomeInfo, SessionInfo
from mirrorvr.errors import ExportError
from mirrorvr.export.metrics import session_row, stimulation_dose
from mirrorvr.export.output import check_output_file, output_file
from mirrorvr.record.reader import read_recording

logger = logging.getLogger(__name__)

#: IMMPACT thresholds of a clinically important reduction of pain (REFERENCES.md).
IMMPACT_MODERATE = 0.30
IMMPACT_SUBSTANTIAL = 0.50
#: The section ids, in page order.
SECTIONS = ("pain", "decoder", "realtime-tests", "stimulation", "adherence", "latency")
#: The pain scores plotted against the bands: (instrument, score, label, full scale).
PAIN_SCORES = (
    ("nrs", "intensity", "NRS pain intensity (0-10)", 10.0),
    ("vas", "intensity_mm", "VAS pain intensity (mm)", 100.0),
    ("sf_mpq_2", "pri_sum", "SF-MPQ-2 PRI-style sum (0-220)", 220.0),
)

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#111;
background:#fff;line-height:1.45}
header{background:#12355b;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:26px} header p{margin:4px 0 0;opacity:.9}
main{padding:8px 32px 32px;max-width:1100px}
section{margin-top:26px;border-top:2px solid #d7dde5;padding-top:6px}
h2{color:#12355b;font-size:20px;margin:8px 0}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #c9d1db;padding:3px 8px;text-align:right}
th{background:#eef2f7} td:first-child,th:first-child{text-align:left}
img{max-width:100%;height:auto;display:block;margin:8px 0}
.note{color:#555;font-size:13px} .band-moderate{background:#fff4cc}
.band-substantial{background:#d9f2d9}
"""


@dataclass
class _SessionData:
    info: SessionInfo
    number: int
    outcomes: list[OutcomeInfo]
    row: dict
    dose: dict[int, dict] = field(default_factory=dict)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return ("<img alt='plot' src='data:image/png;base64,"
            + base64.b64encode(buf.getvalue()).decode("ascii") + "'>")


def _table(header: list[str], rows: list[list], row_classes: list[str] | None = None) -> str:
    out = ["<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"]
    for k, row in enumerate(rows):
        cls = f" class='{row_classes[k]}'" if row_classes and row_classes[k] else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row)
                   + "</tr>")
    return "".join(out) + "</table>"


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _score(session: _SessionData, instrument: str, score: str, timepoint: str):
    for o in session.outcomes:
        if o.instrument == instrument and o.timepoint == timepoint:
            return o.scores.get(score)
    return None


def _band(change: float | None) -> str:
    if change is None:
        return ""
    if change >= IMMPACT_SUBSTANTIAL:
        return "band-substantial"
    if change >= IMMPACT_MODERATE:
        return "band-moderate"
    return ""


def _pain_section(sessions: list[_SessionData]) -> str:
    import matplotlib.pyplot as plt

    parts = []
    numbers = [s.number for s in sessions]
    for instrument, score, label, full in PAIN_SCORES:
        pre = [_score(s, instrument, score, "pre") for s in sessions]
        post = [_score(s, instrument, score, "post") for s in sessions]
        if all(v is None for v in pre + post):
            continue
        baseline = next((v for v in pre if v is not None), None)
        fig, ax = plt.subplots(figsize=(8.5, 3.2))
        if baseline:
            ax.axhspan(baseline * (1 - IMMPACT_MODERATE), baseline * (1 - IMMPACT_SUBSTANTIAL),
                       color="#f6c945", alpha=0.25, label="≥ 30 % reduction (moderate)")
            ax.axhspan(baseline * (1 - IMMPACT_SUBSTANTIAL), 0, color="#3aa655", alpha=0.18,
                       label="≥ 50 % reduction (substantial)")
            ax.axhline(baseline, color="#888", lw=1, ls="--", label="baseline")
        for values, name, style in ((pre, "before session", "o-"),
                                    (post, "after session", "s--")):
            xs = [n for n, v in zip(numbers, values, strict=True) if v is not None]
            ys = [v for v in values if v is not None]
            if ys:
                ax.plot(xs, ys, style, label=name)
        ax.set_xlabel("session")
        ax.set_ylabel(label)
        ax.set_xticks(numbers)
        ax.set_ylim(0, max(full * 0.05, max(v for v in pre + post if v is not None) * 1.15))
        ax.legend(fontsize=8, loc="upper right", ncol=2)
        ax.set_title(label)
        parts.append(_png(fig))
        rows, classes = [], []
        for s, a, b in zip(sessions, pre, post, strict=True):
            change = None if (a is None or not baseline) else (baseline - a) / baseline
            rows.append([s.number, a, b, None if change is None else f"{100 * change:.0f} %"])
            classes.append(_band(change))
        parts.append(_table(["session", "before", "after", "change of 'before' from baseline"],
                            rows, classes))
    other = []
    for s in sessions:
        for o in s.outcomes:
            if o.instrument in ("bpi_interference", "pain_diary", "pgic", "sf_mpq_2"):
                shown = ", ".join(f"{k} {_fmt(v)}" for k, v in o.scores.items())
                other.append([s.number, o.instrument, o.timepoint, shown])
    if other:
        parts.append("<h3>Other instruments</h3>" + _table(
            ["session", "instrument", "timepoint", "scores"], other))
    if not parts:
        parts.append("<p class='note'>No pain outcomes recorded.</p>")
    return ("<p class='note'>Bands: IMMPACT — a reduction of ≥ 30 % from baseline is "
            "moderately important, ≥ 50 % substantial (baseline: the first session's value "
            "before the session). Rows are shaded by the band reached.</p>" + "".join(parts))


def _decoder_section(sessions: list[_SessionData]) -> str:
    import matplotlib.pyplot as plt

    with_dec = [s for s in sessions if (s.info.summary or {}).get("decoder")]
    if not with_dec:
        return "<p class='note'>No decoder was trained in these sessions.</p>"
    fig, ax = plt.subplots(figsize=(8.5, 2.8))
    acc = [100 * s.info.summary["decoder"]["cv_accuracy"] for s in with_dec]
    ax.plot([s.number for s in with_dec], acc, "o-", color="#12355b")
    n_classes = len(with_dec[0].info.summary["decoder"]["classes"])
    ax.axhline(100 / n_classes, color="#888", ls=":", label=f"chance ({100 / n_classes:.0f} %)")
    ax.set_ylim(0, 100)
    ax.set_xlabel("session")
    ax.set_ylabel("cross-validated accuracy, %")
    ax.set_xticks([s.number for s in with_dec])
    ax.legend(fontsize=8)
    parts = [_png(fig)]
    n = len(with_dec)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    for ax, s in zip(axes.flat, with_dec, strict=False):
        dec = s.info.summary["decoder"]
        cm = np.asarray(dec["confusion_matrix"], dtype=float)
        share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.set_visible(True)
        ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
        short = [c.replace("wrist_", "w.").replace("hand_", "h.") for c in dec["classes"]]
        ax.set_xticks(range(len(short)), short, rotation=60, fontsize=7)
        ax.set_yticks(range(len(short)), short, fontsize=7)
        ax.set_title(f"session {s.number}: {100 * dec['cv_accuracy']:.0f} %", fontsize=9)
    fig.supxlabel("predicted", fontsize=9)
    fig.supylabel("true", fontsize=9)
    fig.tight_layout()
    parts.append(_png(fig))
    parts.append(_table(["session", "accuracy", "classes", "features", "classifier"], [
        [s.number, f"{100 * s.info.summary['decoder']['cv_accuracy']:.1f} %",
         len(s.info.summary["decoder"]["classes"]),
         "+".join(s.info.summary["decoder"].get("features", [])),
         s.info.summary["decoder"].get("classifier")] for s in with_dec]))
    return "".join(parts)


def _realtime_section(sessions: list[_SessionData]) -> str:
    import matplotlib.pyplot as plt

    rows = [[s.number, s.row["motion_test_completion_rate"], s.row["motion_test_completion_time_s"],
             s.row["motion_test_realtime_accuracy"], s.row["tac_test_completion_rate"],
             s.row["tac_test_completion_time_s"], s.row["tac_test_path_efficiency_pct"]]
            for s in sessions]
    if all(all(v is None for v in r[1:]) for r in rows):
        return "<p class='note'>No Motion Test or TAC test was run in these sessions.</p>"
    fig, ax = plt.subplots(figsize=(8.5, 2.8))
    for col, name in ((1, "Motion Test completion rate"), (4, "TAC test completion rate")):
        pts = [(r[0], 100 * r[col]) for r in rows if r[col] is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), "o-", label=name)
    ax.set_ylim(0, 105)
    ax.set_xlabel("session")
    ax.set_ylabel("%")
    ax.set_xticks([s.number for s in sessions])
    ax.legend(fontsize=8)
    return _png(fig) + _table(
        ["session", "Motion: completion rate", "Motion: completion time, s",
         "Motion: real-time accuracy", "TAC: completion rate", "TAC: completion time, s",
         "TAC: path efficiency, %"], rows)


def _stimulation_section(sessions: list[_SessionData]) -> str:
    import matplotlib.pyplot as plt

    channels = sorted({ch for s in sessions for ch in s.dose})
    if not channels:
        return "<p class='note'>No stimulation train was sent in these sessions.</p>"
    fig, ax = plt.subplots(figsize=(8.5, 2.8))
    bottom = np.zeros(len(sessions))
    for ch in channels:
        on = np.array([s.dose.get(ch, {}).get("on_time_s", 0.0) for s in sessions])
        ax.bar([s.number for s in sessions], on, bottom=bottom, label=f"channel {ch}")
        bottom += on
    ax.set_xlabel("session")
    ax.set_ylabel("stimulation on-time, s")
    ax.set_xticks([s.number for s in sessions])
    ax.legend(fontsize=8)
    rows = []
    for s in sessions:
        for ch, d in s.dose.items():
            rows.append([s.number, ch, d["trains"], d["cut_short"], round(d["on_time_s"], 2),
                         d["pulses"], d["max_amplitude_ma"]])
    return ("<p class='note'>From each recording's dose log: trains actually sent, with "
            "those cut short (watchdog, emergency stop, fault) counted at their real "
            "length.</p>" + _png(fig) + _table(
                ["session", "channel", "trains", "cut short", "on-time, s", "pulses",
                 "max amplitude, mA"], rows))


def _adherence_section(sessions: list[_SessionData], courses) -> str:
    done = sum(s.info.status == "complete" for s in sessions)
    incomplete = sum(s.info.status in ("incomplete", "aborted") for s in sessions)
    planned = max((c[2] for c in courses), default=None)
    parts = []
    if planned:
        share = done / planned
        parts.append(f"<p><b>{done} of {planned} planned sessions done ({100 * share:.0f} %)"
                     f"</b>{f', {incomplete} incomplete' if incomplete else ''}.</p>")
    else:
        parts.append(f"<p><b>{done} sessions done</b> (no course planned)"
                     f"{f', {incomplete} incomplete' if incomplete else ''}.</p>")
    parts.append(_table(["session", "started (UTC)", "protocol", "profile version", "course",
                         "status"], [
        [s.number, s.info.started_at.strftime("%Y-%m-%d %H:%M"), s.info.protocol,
         s.info.profile_version,
         s.info.place, s.info.status] for s in sessions]))
    return "".join(parts)


def _latency_section(sessions: list[_SessionData]) -> str:
    import matplotlib.pyplot as plt

    rows = [[s.number, s.row["presentation_delay_ms"], s.row["asynchrony_n"],
             s.row["asynchrony_median_ms"], s.row["asynchrony_p99_abs_ms"],
             s.row["frames_mean_fps"]] for s in sessions]
    if all(r[1] is None and r[3] is None for r in rows):
        return "<p class='note'>No timing figures in these sessions' summaries.</p>"
    numbers = [r[0] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 2.8))
    for ax, series, title in (
            (left, ((1, "presentation delay D", "o-"),), "presentation delay"),
            (right, ((3, "median", "s-"), (4, "p99 of |asynchrony|", "^--")),
             "visual-EMS asynchrony")):
        for col, name, style in series:
            pts = [(r[0], r[col]) for r in rows if r[col] is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, label=name)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("session")
        ax.set_ylabel("ms")
        ax.set_xticks(numbers)
        ax.legend(fontsize=8)
    left.set_ylim(bottom=0)
    fig.tight_layout()
    return ("<p class='note'>Asynchrony: predicted contraction onset minus first photon time "
            "of each stimulated movement (positive: the contraction came later).</p>"
            + _png(fig) + _table(["session", "presentation delay, ms", "stimulated movements",
                                   "asynchrony median, ms", "asynchrony p99 |.|, ms",
                                   "frames/s"], rows))


def build_report(catalog: Catalog, pseudonym: str,
                 progress: Callable[[int, int, str], None] | None = None) -> str:
    """The report's HTML text.

    Raises
    ------
    ExportError
        If the patient has no sessions in the catalogue.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    infos = catalog.sessions(pseudonym)
    if not infos:
        raise ExportError(f"patient {pseudonym!r} has no sessions in the catalogue")
    sessions = []
    for k, info in enumerate(infos, 1):
        if progress is not None:
            progress(k - 1, len(infos) + len(SECTIONS), f"reading session {k}")
        outcomes = catalog.outcomes(session_id=info.id)
        path = info.folder / "recording.xdf"
        recording = read_recording(path, emg=False) if path.is_file() else None
        data = _SessionData(info, k, outcomes, session_row(info, k, outcomes, recording))
        if recording is not None:
            data.dose = stimulation_dose(recording.stimulation)
        sessions.append(data)
    builders = {
        "pain": ("Pain outcomes", lambda: _pain_section(sessions)),
        "decoder": ("Decoder accuracy and confusion", lambda: _decoder_section(sessions)),
        "realtime-tests": ("Motion Test and TAC test", lambda: _realtime_section(sessions)),
        "stimulation": ("Stimulation dose per channel", lambda: _stimulation_section(sessions)),
        "adherence": ("Adherence", lambda: _adherence_section(sessions,
                                                              catalog.courses(pseudonym))),
        "latency": ("Latency and asynchrony", lambda: _latency_section(sessions)),
    }
    body = []
    for k, section in enumerate(SECTIONS):
        if progress is not None:
            progress(len(infos) + k, len(infos) + len(SECTIONS), f"section {section}")
        title, build = builders[section]
        body.append(f"<section id='{section}'><h2>{html.escape(title)}</h2>{build()}</section>")
    if progress is not None:
        progress(len(infos) + len(SECTIONS), len(infos) + len(SECTIONS), "done")
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    first, last = infos[0].started_at, infos[-1].started_at
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>mirrorvr report {html.escape(pseudonym)}</title><style>{_CSS}</style></head>"
        f"<body><header><h1>Patient {html.escape(pseudonym)}</h1>"
        f"<p>{len(infos)} sessions, {first:%Y-%m-%d} to {last:%Y-%m-%d} · generated {now} by "
        f"mirrorvr {mirrorvr.__version__}</p></header><main>{''.join(body)}</main></body></html>"
    )


def write_report(catalog: Catalog, pseudonym: str, out: str | Path,
                 progress: Callable[[int, int, str], None] | None = None) -> Path:
    """Build the report and write it to ``out`` (folders created).

    Raises
    ------
    ExportError
        If the patient has no sessions, or ``out`` is a folder or cannot be written.
    """
    check_output_file(out, "report")  # before the work; created only once there is a report
    text = build_report(catalog, pseudonym, progress)
    out = output_file(out, "report")
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as err:
        raise ExportError(f"report: {str(out)!r} cannot be written: "
                          f"{err.strerror or err}") from err
    logger.info("report of %s written to %s", pseudonym, out)
    return out
