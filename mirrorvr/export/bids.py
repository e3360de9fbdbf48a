"""EMG-BIDS export (BIDS 1.11): one dataset of a data directory's sessions.

``sub-<label>/ses-<NN>/emg/sub-<label>_ses-<NN>_task-<protocol>_emg.edf`` (EDF through
mne-bids + edfio), its ``_emg.json`` (power-line frequency, placement scheme, reference,
software filters, task name), ``_channels.tsv``, ``_events.tsv`` + ``.json`` (blocks,
cues, movements seen, ratings, stimulation trains, emergency stops), ``participants.tsv``
with pseudonyms only, and ``dataset_description.json`` with ``BIDSVersion`` 1.11.0.

The subject label is the pseudonym without its ``sub-`` prefix (``sub-demo01`` ->
``demo01``); sessions are numbered per patient in the order they started (``ses-01``...).
No identifying data is read: the catalogue's ``identities`` table is never queried.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import logging
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import mirrorvr
from mirrorvr.catalog import Catalog, SessionInfo
from mirrorvr.errors import ExportError, RecordingError
from mirrorvr.export.output import output_dir
from mirrorvr.record.reader import EVENT_TYPES, check_emg, events, read_recording

logger = logging.getLogger(__name__)

BIDS_VERSION = "1.11.0"


@dataclass
class BidsExport:
    """What :func:`export_bids` wrote: ``files`` per session id, sessions ``skipped`` with
    the reason, and the EMG minutes exported."""

    root: Path
    sessions: dict[int, Path] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)
    emg_minutes: float = 0.0


def subject_label(pseudonym: str) -> str:
    """The BIDS subject label of a pseudonym (alphanumeric, ``sub-`` prefix dropped)."""
    label = re.sub(r"[^A-Za-z0-9]", "", pseudonym.removeprefix("sub-"))
    if not label:
        raise ExportError(f"pseudonym {pseudonym!r} gives an empty BIDS subject label")
    return label


def task_label(protocol: str) -> str:
    label = re.sub(r"[^A-Za-z0-9]", "", protocol)
    return label or "session"


def _config(session: SessionInfo) -> dict:
    path = session.folder / "config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportError(f"session {session.id}: {str(path)!r} is missing") from None


def _placement(config: dict, n_channels: int) -> str:
    emg = config.get("emg", {})
    patient = config.get("patient", {})
    side = patient.get("amputated_side", "?")
    level = patient.get("amputation_level", "?")
    if emg.get("source") == "simulated":
        return (f"simulated patient: {n_channels} surface electrodes evenly spaced on a ring "
                f"around the {side} {level} residual limb (mirrorvr.emg.simulator)")
    return (f"{n_channels} surface electrodes on the {side} {level} residual limb; positions "
            "not recorded by mirrorvr (see the site's electrode placement notes)")


def _write_tsv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["n/a" if v is None else v for v in row])


def _export_session(session: SessionInfo, ses_label: str, root: Path, outcomes) -> Path:
    import mne
    from mne_bids import BIDSPath, write_raw_bids

    recording_path = session.folder / "recording.xdf"
    rec = read_recording(recording_path)
    check_emg(rec, recording_path)
    config = _config(session)
    emg_cfg = config.get("emg", {})
    info = mne.create_info(rec.channel_names, rec.sampling_rate_hz, ch_types="emg")
    raw = mne.io.RawArray(rec.emg_v, info, verbose=False)  # volts, (n_channels, n_times)
    raw.info["line_freq"] = float(emg_cfg.get("mains_hz", 50))
    raw.set_meas_date(session.started_at.astimezone(_dt.timezone.utc))
    bids_path = BIDSPath(subject=subject_label(session.pseudonym), session=ses_label,
                         task=task_label(session.protocol), datatype="emg", root=root)
    with warnings.catch_warnings():
        # expected here: electrode positions are not known (so no coordsystem.json), the
        # events are written below from the recording, EDF pads the last data record, and
        # an earlier export's dataset_description.json says BIDS 1.11.0 (rewritten below)
        for message in ("No electrode location info", "No events found",
                        "EDF format requires equal-length data blocks",
                        "Conflicting BIDSVersion found"):
            warnings.filterwarnings("ignore", message=message)
        write_raw_bids(raw, bids_path, format="EDF", emg_placement="Other",
                       allow_preload=True, overwrite=True, verbose=False)

    sidecar = bids_path.copy().update(suffix="emg", extension=".json")
    meta = json.loads(Path(sidecar.fpath).read_text(encoding="utf-8"))
    source = emg_cfg.get("source", "unknown")
    meta.update({
        "TaskName": task_label(session.protocol),
        "TaskDescription": f"mirrorvr protocol {session.protocol!r}",
        "PowerLineFrequency": float(emg_cfg.get("mains_hz", 50)),
        "EMGPlacementScheme": "Other",
        "EMGPlacementSchemeDescription": _placement(config, len(rec.channel_names)),
        "EMGReference": "n/a" if source == "simulated" else
        "as wired on the amplifier (see the site's set-up notes)",
        "EMGGround": "n/a",
        # the file holds the EMG as acquired; the live decoder's filters are not applied
        "SoftwareFilters": "n/a",
        "Manufacturer": "mirrorvr simulated patient" if source == "simulated"
        else f"BrainFlow board {emg_cfg.get('board', 'n/a')}",
        "SoftwareVersions": f"mirrorvr {mirrorvr.__version__}",
        "RecordingType": "continuous",
    })
    Path(sidecar.fpath).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    t0 = float(rec.emg_t_s[0])
    rows = []
    for e in events(rec, outcomes):
        rows.append([f"{e.onset_s - t0:.6f}", f"{e.duration_s:.6f}", e.trial_type,
                     " ".join(e.value.split()) or "n/a", e.channel,
                     None if e.amplitude_ma is None else f"{e.amplitude_ma:g}"])
    events_path = bids_path.copy().update(suffix="events", extension=".tsv")
    _write_tsv(Path(events_path.fpath),
               ["onset", "duration", "trial_type", "value", "stim_channel", "amplitude_ma"],
               [r for r in rows if float(r[0]) >= 0])
    Path(events_path.copy().update(extension=".json").fpath).write_text(json.dumps({
        "onset": {"Description": "time from the first EMG sample", "Units": "s"},
        "duration": {"Description": "how long the event lasted (0: instantaneous)",
                     "Units": "s"},
        "trial_type": {"Description": "event type", "Levels": EVENT_TYPES},
        "value": {"Description": "what happened (see trial_type)"},
        "stim_channel": {"Description": "stimulator channel of a stimulation train"},
        "amplitude_ma": {"Description": "train amplitude after the ramp", "Units": "mA"},
    }, indent=2) + "\n", encoding="utf-8")
    return Path(bids_path.fpath)


def _participants(root: Path, sessions: list[SessionInfo]) -> None:
    """participants.tsv with pseudonymous ids and clinical descriptors only."""
    seen: dict[str, dict] = {}
    for s in sessions:
        config = _config(s)
        patient = config.get("patient", {})
        seen.setdefault(subject_label(s.pseudonym), {
            "amputated_side": patient.get("amputated_side"),
            "amputation_level": patient.get("amputation_level"),
        })
    _write_tsv(root / "participants.tsv", ["participant_id", "amputated_side",
                                           "amputation_level"],
               [[f"sub-{label}", v["amputated_side"], v["amputation_level"]]
                for label, v in sorted(seen.items())])
    (root / "participants.json").write_text(json.dumps({
        "participant_id": {"Description": "pseudonymous id (mirrorvr patient.pseudonym)"},
        "amputated_side": {"Description": "side of the amputation",
                           "Levels": {"left": "left", "right": "right"}},
        "amputation_level": {"Description": "level of the amputation"},
    }, indent=2) + "\n", encoding="utf-8")


def _dataset_description(root: Path) -> None:
    (root / "dataset_description.json").write_text(json.dumps({
        "Name": "mirrorvr sessions (EMG, phantom motor execution / mirror therapy)",
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "raw",
        "GeneratedBy": [{"Name": "mirrorvr", "Version": mirrorvr.__version__,
                         "Description": "mirrorvr export bids"}],
    }, indent=2) + "\n", encoding="utf-8")
    readme = root / "README"
    if not readme.exists():
        readme.write_text(
            "EMG recorded by mirrorvr during mirror therapy and phantom motor execution "
            "sessions.\nParticipants are identified by pseudonyms only. Events: blocks, cues, "
            "movements of the virtual limb, outcome ratings, stimulation trains.\n",
            encoding="utf-8")


def export_bids(catalog: Catalog, out_dir: str | Path, *, pseudonym: str | None = None,
                progress: Callable[[int, int, str], None] | None = None) -> BidsExport:
    """Write the catalogue's sessions (of one patient, or all) as an EMG-BIDS dataset.

    Sessions whose recording is missing or holds no EMG are skipped and named in the result.

    Raises
    ------
    ExportError
        If nothing could be exported, two pseudonyms give the same subject label, or
        ``out_dir`` is a file or cannot be created.
    """
    sessions = catalog.sessions(pseudonym)
    if pseudonym is not None and not sessions:
        raise ExportError(f"patient {pseudonym!r} has no sessions in the catalogue")
    root = output_dir(out_dir, "export bids")
    labels: dict[str, str] = {}
    for s in sessions:
        label = subject_label(s.pseudonym)
        if labels.setdefault(label, s.pseudonym) != s.pseudonym:
            raise ExportError(f"pseudonyms {labels[label]!r} and {s.pseudonym!r} give the same "
                              f"BIDS subject label {label!r}")
    result = BidsExport(root)
    per_patient: dict[str, int] = {}
    exported = []
    for k, s in enumerate(sessions):
        number = per_patient.get(s.pseudonym, 0) + 1
        per_patient[s.pseudonym] = number
        if progress is not None:
            progress(k, len(sessions), f"{s.pseudonym} session {number}")
        try:
            path = _export_session(s, f"{number:02d}", root,
                                   catalog.outcomes(session_id=s.id))
        except (ExportError, RecordingError) as err:
            logger.warning("session %d skipped: %s", s.id, err)
            result.skipped[s.id] = str(err)
            continue
        result.sessions[s.id] = path
        exported.append(s)
        rec_minutes = float(np.nan_to_num(_duration_s(path))) / 60.0
        result.emg_minutes += rec_minutes
    if not exported:
        raise ExportError("no session with EMG to export" + (
            f" (skipped: {result.skipped})" if result.skipped else ""))
    _participants(root, exported)
    _dataset_description(root)
    if progress is not None:
        progress(len(sessions), len(sessions), "done")
    return result


def _duration_s(edf_path: Path) -> float:
    sidecar = edf_path.with_suffix(".json")
    try:
        return float(json.loads(sidecar.read_text(encoding="utf-8"))["RecordingDuration"])
    except (FileNotFoundError, KeyError, ValueError):
        return 0.0
