"""The composition root: builds every concrete backend of a session and wires them.

Only this module (and the CLI commands that call it) names concrete devices, sources and
windows. It checks everything a session needs before anything starts (:func:`preflight`),
then builds the EMG source, the stimulator behind the safety governor, the scheduler, the
watchdog, the recorder, the window and renderer, the loop (real time or stepped), the
intact-limb driver, the catalogue's journal (which also says where the session falls in the
patient's course, and so which rating blocks are due) and — when the patient is simulated —
the simulated person watching the screen, and hands them to a
:class:`~mirrorvr.session.runner.SessionRunner`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import signal
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from mirrorvr.config import SessionConfig, config_to_toml_dict
from mirrorvr.errors import ConfigError, MirrorVRError
from mirrorvr.session.protocol import (
    BlockPlan,
    Protocol,
    limb_movements,
    load_protocol,
    plan_protocol,
    protocol_to_toml,
)

log = logging.getLogger("mirrorvr")

#: The demo's simulated patient's pain (NRS) by timepoint: what it answers on the rating
#: screens (other instruments are answered to match, :class:`mirrorvr.sim.rater.FixedPain`).
DEMO_RATINGS = {"pre": 6, "post": 4}
#: The limb of each amputation level.
LEVEL_LIMB = {"transradial": "upper", "transhumeral": "upper", "transtibial": "lower",
              "transfemoral": "lower"}


#: Pseudonym of a session run with a real stimulator but no patient profile (it cannot arm).
NO_PROFILE = "no-profile"


def resolve_patient(config: SessionConfig) -> tuple[SessionConfig, str | None]:
    """The configuration with a patient, and why stimulation must not be armed (or None).

    SAFETY.md 12: nothing of a person is a default. With no ``[patient]``, the demo's
    simulated patient stands in only while the stimulator is simulated; behind a real
    stimulator the session gets an empty profile (no channels, no screening) and refuses to
    arm, saying why.
    """
    if config.patient is not None:
        return config, None
    from mirrorvr.config import PatientProfile
    from mirrorvr.sim.demo import demo_patient

    if config.stim.driver == "simulated":
        return config.model_copy(update={"patient": demo_patient()}), None
    shown = demo_patient()  # only its sides and level, to draw a limb; nothing of its record
    empty = PatientProfile(pseudonym=NO_PROFILE, amputated_side=shown.amputated_side,
                           amputation_level=shown.amputation_level)
    refusal = (f"no patient profile: the {config.stim.driver!r} stimulator needs the "
               "patient's own titrated profile ([patient] with stim_channels and screening); "
               "no demo patient stands in for a person (SAFETY.md 12)")
    log.warning("stimulation will not be armed: %s", refusal)
    return config.model_copy(update={"patient": empty}), refusal


def check_data_dir(data_dir: Path) -> Path:
    """``data_dir`` once it is known that a session folder can be written in it; nothing is
    created (the session's folder is made when everything else has been checked).

    Raises
    ------
    ConfigError
        If it (or the nearest folder above it that exists) is a file or cannot be written to.
    """
    data_dir = Path(data_dir)
    existing = data_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "" if existing == data_dir else f" (its parent {str(existing)!r} is a file)"
        raise ConfigError(f"--data-dir: {str(data_dir)!r} is not a folder{where}")
    probe = existing / f".mirrorvr-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ConfigError(
            f"--data-dir: {str(data_dir)!r} cannot be written to ({err.strerror}): choose a "
            "folder you may write in"
        ) from None
    return data_dir


def check_source_matches(source, config: SessionConfig, section: str = "emg") -> None:
    """Refuse a source whose rate or channel count differs from the configuration: the
    filters, windows and decoder are built for the configured values, and a silently
    different stream would be half-applied (issue: a 250 Hz board read as 2000 Hz).
    ``section``: "emg", or "tracker.emg" for the intact side's electrodes."""
    emg = config.tracker.emg if section == "tracker.emg" else config.emg
    rate, n = float(source.sampling_rate_hz), len(source.channel_names)
    what = emg.describe()
    if abs(rate - emg.sampling_rate_hz) > 1e-6 * emg.sampling_rate_hz:
        raise ConfigError(
            f"{section}.sampling_rate_hz = {emg.sampling_rate_hz:g}: the {what} streams at "
            f"{rate:g} Hz; set {section}.sampling_rate_hz = {rate:g} (and a bandpass_hz whose "
            f"high edge is below {0.45 * rate:g} Hz) so every filter, window and the decoder "
            "follow it"
        )
    if n != emg.n_channels:
        raise ConfigError(
            f"{section}.n_channels = {emg.n_channels}: the {what} has {n} EMG channels; set "
            f"{section}.n_channels = {n}"
        )


#: The config field a governor limit is set by, for messages (the rest name the limit).
_FIELD_OF_LIMIT = {
    "max_on_time_s": "stim.on_time_s", "on_time_s": "stim.on_time_s",
    "pulse_width_us": "stim.pulse_width_us", "min_pulse_width_us": "stim.pulse_width_us",
    "max_pulse_width_us": "stim.pulse_width_us", "min_frequency_hz": "stim.frequency_hz",
    "max_frequency_hz": "stim.frequency_hz", "frequency_hz": "stim.frequency_hz",
    "min_ramp_up_s": "stim.ramp_up_s", "ramp_up_s": "stim.ramp_up_s",
    "min_ramp_down_s": "stim.ramp_down_s", "ramp_down_s": "stim.ramp_down_s",
    "ramps_within_on_time": "stim.ramp_up_s + stim.ramp_down_s (<= stim.on_time_s)",
    "max_charge_per_phase_uc": "stim.pulse_width_us or the channel's amplitude",
    "max_rms_current_ma": "stim.pulse_width_us, stim.frequency_hz or the amplitude",
    "max_current_density_ma_rms_per_cm2":
        "patient.stim_channels[].electrode_area_cm2 or stim.intensity_fraction",
    "comfort_ramp_up_s": "stim.ramp_up_s", "comfort_ramp_down_s": "stim.ramp_down_s",
    "subthreshold_rise_s": "stim.subthreshold_rise_s",
    "subthreshold_fall_s": "stim.subthreshold_rise_s",
    "two_slope_envelope": "stim.fast_rise_below_motor_threshold",
    "threshold_ma": "patient.stim_channels[].motor_threshold_ma",
}


def check_stimulation(config: SessionConfig, clock) -> None:
    """Refuse, before the session starts, stimulation settings whose trains the safety
    governor would refuse every time (the session would say "armed" and never stimulate).

    Each mapped, titrated channel's standard train is checked against the device's hard
    limits and the patient's limits by the governor's own rules.
    """
    if not config.stim.enabled:
        return
    from mirrorvr.errors import SafetyLimitError
    from mirrorvr.stim.governor import SafetyGovernor
    from mirrorvr.stim.prescription import commands_for
    from mirrorvr.stim.ramp_rule import RampRule
    from mirrorvr.stim.simulated import SimulatedStimulator

    device = config.stim.device
    ramps = RampRule.from_settings(config.stim)
    try:  # the configured limits and ramp rule over a stand-in with the device's limits
        limits = SafetyGovernor(device, config.patient,
                                SimulatedStimulator(clock, capabilities=device), clock,
                                ramps=ramps)
    except SafetyLimitError as err:  # the configuration's own checks should have said it
        raise ConfigError(f"patient.stim_channels: {err}") from None
    for movement in config.stim.movement_channels:
        for cmd in commands_for(movement, 0.0, config.stim, config.patient)[0]:
            try:
                limits.check(cmd)
            except SafetyLimitError as err:
                field = _FIELD_OF_LIMIT.get(err.limit.split(" ")[0], "stim")
                raise ConfigError(
                    f"{field}: every {movement!r} train on channel {cmd.channel} would be "
                    f"refused by the safety governor ({err}); change {field}"
                ) from None


@dataclass(frozen=True)
class Preflight:
    """What a session needs that was checked before anything started."""

    config: SessionConfig
    protocol: Protocol
    limb: str
    blocks: list[BlockPlan]
    stim_refusal: str | None
    data_dir: Path
    source: object
    simulated_patient: object | None
    #: tracker.source = "intact_emg": the intact side's electrodes (their simulated twin, or
    #: None) and a decoder from tracker.decoder_file with its accuracy (None: calibrate)
    intact_emg: IntactEmgParts | None = None


def resolve_protocol(config: SessionConfig, protocol: Protocol | str | None = None):
    """The protocol, the patient's limb and the session's blocks (rehearsal-scaled).

    Raises
    ------
    ConfigError
        A protocol for the other limb, a level the models cannot show, or what
        :func:`~mirrorvr.session.protocol.plan_protocol` refuses.
    """
    if not isinstance(protocol, Protocol):
        protocol = load_protocol(protocol or config.protocol.name)
    patient = config.patient
    limb = LEVEL_LIMB[patient.amputation_level]
    allowed = limb_movements(limb, patient.amputation_level)
    if protocol.limb != limb:
        raise ConfigError(
            f"protocol: {protocol.name!r} is a {protocol.limb}-limb protocol and patient "
            f"{patient.pseudonym} is a {patient.amputated_side} {patient.amputation_level} "
            f"amputee: choose a {limb}-limb protocol (mirrorvr protocols)")
    given = config.emg.movements if "movements" in config.emg.model_fields_set else None
    if given is not None:  # the configuration's classes are the calibrations' default
        protocol = protocol.model_copy(update={"blocks": tuple(
            b.model_copy(update={"movements": given})
            if b.kind == "calibration" and b.movements is None else b
            for b in protocol.blocks)})
    blocks = plan_protocol(protocol, allowed, config.protocol.duration_s, config.emg.window_s)
    return protocol, limb, blocks


def with_limb_defaults(config: SessionConfig) -> SessionConfig:
    """``config`` with the stimulation channel map of the patient's limb when none is given."""
    from mirrorvr.stim.prescription import default_movement_channels

    if config.stim.movement_channels is not None:
        return config
    channels = default_movement_channels(config.patient.amputation_level)
    return config.model_copy(update={"stim": config.stim.model_copy(
        update={"movement_channels": channels})})


def preflight(config: SessionConfig, data_dir: Path, clock,
              protocol: Protocol | str | None = None) -> Preflight:
    """Every check a session makes before it starts, in the order a user would fix them:
    the patient (SAFETY.md 12), the protocol for this patient's limb, the stimulation
    settings against the governor's limits, the EMG source (opened lazily: nothing streams
    yet) against the configuration, and last the data folder (created if missing).

    Raises
    ------
    ConfigError, AcquisitionError
        Naming the field, the value and what is allowed; nothing is recorded yet.
    """
    config, stim_refusal = resolve_patient(config)
    protocol, limb, blocks = resolve_protocol(config, protocol)
    config = with_limb_defaults(config)
    check_stimulation(config, clock)
    movements = tuple(dict.fromkeys(m for b in blocks for m in b.movements)) or ("rest",)
    source, simulated = build_emg_source(config, clock, movements)
    check_source_matches(source, config)
    intact = prepare_intact_emg(config, clock, limb, blocks)
    data_dir = check_data_dir(data_dir)  # last: the only check that creates anything
    return Preflight(config, protocol, limb, blocks, stim_refusal, data_dir, source, simulated,
                     intact)


def describe_preflight(ready: Preflight) -> str:
    """What ``mirrorvr check`` found: the session that would run."""
    cfg = ready.config
    p = cfg.patient
    refusal = arming_refusal(ready)
    stim = ("disabled" if not cfg.stim.enabled else
            f"{cfg.stim.driver}, would not arm: {refusal}" if refusal else f"{cfg.stim.driver}")
    length_s = sum(b.duration_s for b in ready.blocks)
    return "\n".join([
        "configuration ok",
        f"  patient      {p.pseudonym} ({p.amputated_side} {p.amputation_level})",
        f"  protocol     {ready.protocol.name}: {len(ready.blocks)} blocks, "
        f"{length_s / 60:.1f} min",
        f"  EMG          {cfg.emg.source}: {len(ready.source.channel_names)} channels at "
        f"{ready.source.sampling_rate_hz:g} Hz",
        f"  stimulation  {stim}",
        f"  tracker      {describe_tracker(ready)}",
        f"  data folder  {ready.data_dir}",
    ])


def arming_refusal(ready: Preflight) -> str | None:
    """Why the session would not arm stimulation, as it will say at its start (None: it
    arms): no profile behind a real stimulator (SAFETY.md 12), no titrated channel among the
    mapped ones (2), no screening or a contraindication (10)."""
    from mirrorvr.session.stimulation import untitrated_refusal

    if ready.stim_refusal:
        return ready.stim_refusal
    patient = ready.config.patient
    untitrated = untitrated_refusal(ready.config.stim, patient)
    if untitrated:
        return untitrated
    if patient.screening is None:
        return (f"the profile of {patient.pseudonym} has no screening ([patient.screening]); "
                "the therapist must record it first (SAFETY.md 10)")
    contraindications = patient.screening.contraindications()
    if contraindications:
        return (f"patient {patient.pseudonym} has contraindications "
                f"{', '.join(contraindications)} (SAFETY.md 10)")
    return None


def describe_tracker(ready: Preflight) -> str:
    """The mirror blocks' intact limb, for ``mirrorvr check``."""
    tracker = ready.config.tracker
    if not any(b.kind == "mirror" for b in ready.blocks):
        return f"{tracker.source} (no mirror block)"
    intact = ready.intact_emg
    if intact is None:
        return tracker.source
    emg = intact.source
    decoder = (f"decoder {tracker.decoder_file}" if intact.decoder is not None else
               "decoder calibrated in the first mirror block")
    return (f"intact_emg: {tracker.emg.source}, {len(emg.channel_names)} channels at "
            f"{emg.sampling_rate_hz:g} Hz, {decoder}")


def new_session_dir(data_dir: Path, pseudonym: str, kind: str) -> Path:
    """``DATA/<pseudonym>/<timestamp>-<kind>``, created; never reuses an existing folder."""
    stamp = _dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    base = Path(data_dir) / pseudonym
    for n in range(1000):
        path = base / (f"{stamp}-{kind}" + (f"-{n}" if n else ""))
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            continue
    raise MirrorVRError(f"could not create a new session folder under {base}")


def build_emg_source(config: SessionConfig, clock, movements=("rest",)):
    """The EMG source the configuration names, and the simulated patient's residual limb
    (or None): its muscles are those of the patient's amputation level, for ``movements``."""
    return open_emg_source(config.emg, clock, config.seed, movements,
                           config.patient.amputation_level)


def open_emg_source(emg, clock, seed: int, movements, residual: str):
    """The source ``emg`` (an :class:`~mirrorvr.config.EmgSettings`) names, and its
    simulated twin (or None): a simulated patient whose electrodes sit on ``residual``
    (an amputation level's muscles), seeded with ``seed``, able to attempt ``movements``."""
    if emg.source == "simulated":
        from mirrorvr.emg.simulator import SimulatedPatient

        patient = SimulatedPatient(
            clock, n_channels=emg.n_channels, sampling_rate_hz=emg.sampling_rate_hz,
            mains_hz=emg.mains_hz, seed=seed, movements=movements, residual=residual,
        )
        return patient, patient
    if emg.source == "playback":
        from mirrorvr.emg.playback import PlaybackSource

        if emg.playback_file.lower().endswith(".xdf"):
            return PlaybackSource.from_xdf(clock, emg.playback_file), None
        return PlaybackSource.from_brainflow_file(clock, emg.playback_file, emg.board), None
    from mirrorvr.emg.brainflow_source import BrainFlowSource

    return BrainFlowSource.from_settings(clock, emg), None


@dataclass(frozen=True)
class IntactEmgParts:
    """The intact side's EMG for ``tracker.source = "intact_emg"``, checked before a session."""

    source: object
    #: its simulated twin (the simulated person's intact limb), or None
    simulated: object | None
    #: from ``tracker.decoder_file`` (None: the first mirror block calibrates it)
    decoder: object | None
    #: the model file's cross-validated accuracy (None: not recorded in the file)
    accuracy: float | None


#: The muscles under the intact side's electrodes, per limb: the forearm's (as below a
#: transradial residual limb) and the shank's (below the knee, with the knee's tendons).
INTACT_ELECTRODE_SITE = {"upper": "transradial", "lower": "transtibial"}


def open_intact_emg_source(config: SessionConfig, clock, limb: str, movements):
    """The intact side's EMG source (``[tracker.emg]``) and its simulated twin (or None):
    electrodes on the intact ``limb``'s forearm or shank, a layout of their own (another
    seed than the residual limb's), able to attempt ``movements``."""
    return open_emg_source(config.tracker.emg, clock, config.seed + 1, movements,
                           INTACT_ELECTRODE_SITE[limb])


def prepare_intact_emg(config: SessionConfig, clock, limb: str,
                       blocks: list[BlockPlan]) -> IntactEmgParts | None:
    """The intact side's electrodes and decoder, checked against the mirror blocks; None
    unless ``tracker.source = "intact_emg"`` and the protocol has a mirror block.

    Raises
    ------
    ConfigError
        Naming the ``tracker`` field: a source whose rate or channels differ from
        ``[tracker.emg]``, a model file that cannot be read, was trained on other channels
        or does not know a movement the mirror blocks cue, or (no model file) a first
        mirror block too short to calibrate in.
    """
    tracker = config.tracker
    mirrors = [b for b in blocks if b.kind == "mirror"]
    if tracker.source != "intact_emg" or not mirrors:
        return None
    from mirrorvr.errors import DecoderError
    from mirrorvr.tracking.intact_emg import calibration_segments

    movements = tuple(dict.fromkeys(m for b in mirrors for m in b.movements))
    source, simulated = open_intact_emg_source(config, clock, limb, movements)
    check_source_matches(source, config, "tracker.emg")
    if not tracker.decoder_file:
        first = mirrors[0]
        missing = [m for b in mirrors[1:] for m in b.movements if m not in first.movements]
        if missing:
            raise ConfigError(
                f"tracker.decoder_file = '': block {first.name} calibrates the intact side on "
                f"its movements {list(first.movements)}, and a later mirror block cues "
                f"{missing[0]!r}: give every mirror block the same movements, or a decoder "
                "file")
        try:
            calibration_segments(first.cues, first.movements, 0.0,
                                 tracker.calibration_repetitions)
        except ConfigError as err:
            raise ConfigError(
                f"tracker.{err} ({first.name}, {first.duration_s:.1f} s, cues every "
                f"{first.spec.cue_s:g} s): lengthen the block (or the rehearsal, --duration) "
                "or give tracker.decoder_file") from None
        return IntactEmgParts(source, simulated, None, None)
    from mirrorvr.emg.decoder import Decoder
    from mirrorvr.emg.model_io import read_model_meta

    path = tracker.decoder_file
    try:
        decoder = Decoder.load(path, channel_names=source.channel_names,
                               sampling_rate_hz=source.sampling_rate_hz)
        accuracy = (read_model_meta(path).get("calibration") or {}).get("accuracy")
    except DecoderError as err:
        raise ConfigError(f"tracker.decoder_file = {path!r}: {err}") from None
    unknown = [m for m in movements if m not in decoder.model.movements]
    if unknown:
        raise ConfigError(
            f"tracker.decoder_file = {path!r}: decodes {list(decoder.model.movements)}, and the "
            f"mirror blocks cue {unknown}: calibrate the intact side on every cued movement")
    return IntactEmgParts(source, simulated, decoder, accuracy)


def patient_appearance(config: SessionConfig):
    """The renderer's :class:`~mirrorvr.render.appearance.Appearance` of this patient."""
    from mirrorvr.render.appearance import Appearance

    m = config.patient.measurements
    return Appearance(
        skin_rgb=tuple(config.patient.skin_rgb),
        **m.model_dump(),
        amputation_level=config.patient.amputation_level,
        residual=config.render.residual,
    )


def session_video(config: SessionConfig, session_dir: Path):
    """An MP4 recorder of the session's frames, or None when not asked for."""
    if not config.render.record_video:
        return None
    from mirrorvr.render.capture import FrameRecorder

    render = config.render
    # frames are written at a nominal rate; their true times are in the recording's
    # "frames" stream
    return FrameRecorder(session_dir, (render.width, render.height),
                         fps=min(render.max_fps, 30.0), formats=("mp4",))


def open_session_window(config: SessionConfig):
    """The session's window. ``msaa_samples = "auto"`` asks for 4x multisampling but turns it
    off on a software rasteriser, where it costs ~30 ms a frame at 1280x720 and pushes frames
    past the render watchdog's timeout (SAFETY.md item 7)."""
    from mirrorvr.render.window import open_window

    render = config.render
    samples = 4 if render.msaa_samples == "auto" else render.msaa_samples
    window = open_window(render.width, render.height, render.headless, "mirrorvr", samples)
    if render.msaa_samples == "auto" and window.samples and window.software_rasteriser:
        log.info("software rasteriser (%s): multisampling off to keep frame times short",
                 window.gl_renderer)
        window.close()
        window = open_window(render.width, render.height, render.headless, "mirrorvr", 0)
    return window


def build_session(
    config: SessionConfig,
    data_dir: Path,
    *,
    protocol: Protocol | str | None = None,
    clock=None,
    realtime: bool = True,
    ask_ratings: bool = False,
    window=None,
    renderer=None,
    ratings: dict[str, int] | None = None,
    rater=None,
):
    """Build every concrete backend of a session and return its :class:`SessionParts`.

    ``protocol`` defaults to ``config.protocol.name``. ``realtime=False`` runs on ``clock`` (a
    :class:`~mirrorvr.clock.FakeClock`) stepped frame by frame. ``window`` and ``renderer``
    replace the OpenGL ones when given (tests without GL). With ``ask_ratings`` the person at
    the keyboard answers the rating screens, also when the patient is simulated; otherwise a
    simulated patient answers them: as ``rater`` (a :class:`mirrorvr.sim.rater.Rater`, e.g.
    a course's :class:`~mirrorvr.sim.rater.PainTrajectory`) says, else at the pain levels
    ``ratings`` (default :data:`DEMO_RATINGS`).

    The data directory's catalogue (``$MIRRORVR_CATALOG_URL`` selects another) is opened
    first: the session's place in the patient's course decides which rating blocks run
    (their ``sessions``), and the session is written into it while it runs.
    """
    from mirrorvr.clock import SessionClock
    from mirrorvr.stim.factory import open_governor

    clock = clock or SessionClock()
    ready = preflight(config, data_dir, clock, protocol)
    config = ready.config
    # the stimulator first: a device another session or titration holds refuses here,
    # before anything of this session exists (SAFETY.md 13)
    governor = open_governor(config.stim, config.patient, clock, seed=config.seed,
                             purpose=f"session of {config.patient.pseudonym}")
    try:
        journal = open_catalog_journal(ready)
        try:
            ready = at_course_place(ready, journal.place)
            answers = None if ask_ratings else simulated_answers(ready, journal.place, rater,
                                                                 ratings)
            return _build_session(ready, governor, journal, clock, realtime, answers, window,
                                  renderer)
        except BaseException:
            journal.close()
            raise
    except BaseException:
        governor.close("session set-up failed")  # the device is released
        raise


def open_catalog_journal(ready: Preflight):
    """The session's :class:`~mirrorvr.catalog.journal.CatalogJournal`: the data directory's
    catalogue opened, stale sessions recovered, the patient and profile version registered,
    the session's place in the course found.

    Raises
    ------
    CatalogError
        If the catalogue cannot be opened or written (nothing has started).
    """
    from mirrorvr.catalog.journal import CatalogJournal

    config = ready.config
    return CatalogJournal.open(ready.data_dir, config.patient.pseudonym,
                               config_to_toml_dict(config)["patient"], ready.protocol.name)


def at_course_place(ready: Preflight, place) -> Preflight:
    """``ready`` without the rating blocks not due at this ``place`` of the patient's course
    (their ``sessions``), planned again (a rehearsal keeps its length)."""
    due = tuple(b for b in ready.protocol.blocks
                if b.kind != "rating" or b.runs_at(place.position, place.planned))
    if len(due) == len(ready.protocol.blocks):
        return ready
    _, _, blocks = resolve_protocol(ready.config,
                                    ready.protocol.model_copy(update={"blocks": due}))
    return replace(ready, blocks=blocks)


def simulated_answers(ready: Preflight, place, rater, ratings) -> dict[str, dict]:
    """What the simulated patient answers on each rating block, checked before anything
    starts: as ``rater`` says, else at the pain levels ``ratings`` (default
    :data:`DEMO_RATINGS`)."""
    from mirrorvr.sim.rater import FixedPain, planned_answers

    rater = rater or FixedPain(ratings or DEMO_RATINGS, seed=ready.config.seed)
    return planned_answers(rater, ready.blocks, place.position)


def _build_session(ready: Preflight, governor, journal, clock, realtime: bool, answers,
                   window, renderer):
    from mirrorvr.record.recorder import Recorder
    from mirrorvr.render.renderer import Renderer
    from mirrorvr.session.loop import RealtimeLoop, SteppedLoop
    from mirrorvr.session.runner import SessionParts
    from mirrorvr.stim.prescription import motor_thresholds_ma
    from mirrorvr.stim.scheduler import SyncScheduler, command_latency
    from mirrorvr.stim.watchdog import Watchdog

    config = ready.config
    session_dir = new_session_dir(ready.data_dir, config.patient.pseudonym, ready.protocol.name)
    (session_dir / "config.json").write_text(  # standard JSON: a config holds no Infinity
        json.dumps(config_to_toml_dict(config), indent=2, allow_nan=False) + "\n",
        encoding="utf-8")
    (session_dir / "protocol.toml").write_text(protocol_to_toml(ready.protocol),
                                               encoding="utf-8")
    stim = config.stim
    recorder = Recorder.for_session(session_dir, clock, config.record)  # + LSL when asked
    scheduler = SyncScheduler(governor, clock,
                              command_latency(stim, motor_thresholds_ma(config.patient)),
                              late_tolerance_s=stim.late_tolerance_s)
    watchdog = Watchdog(clock, stim.watchdog_timeout_s, on_timeout=governor.all_off)
    loop = (RealtimeLoop if realtime else SteppedLoop)(clock, scheduler, watchdog, governor)
    person = simulated_person(ready, answers)
    intact_limb = intact_limb_driver(ready, person, realtime)
    if window is None:
        window = open_session_window(config)
    if renderer is None:
        renderer = Renderer(
            window, config.render, appearance=patient_appearance(config),
            view=config.render.view, timing_overlay=config.render.timing_overlay,
        )
    frames_dir = session_dir / "frames"
    frames_dir.mkdir()
    return SessionParts(
        config=config, protocol=ready.protocol.name, limb=ready.limb, blocks=ready.blocks,
        session_dir=session_dir, clock=clock, emg_source=ready.source, window=window,
        renderer=renderer, governor=governor, scheduler=scheduler, watchdog=watchdog,
        recorder=recorder, loop=loop,
        observers=[person] if person is not None else [],
        stim_listeners=[person.feel] if person is not None else [],
        intact_limb=intact_limb,
        # a tracker played by hand reads the window's keys and gamepad events
        input_listeners=[intact_limb.source.handle_key]
        if config.tracker.source in ("keyboard", "gamepad") and intact_limb is not None else [],
        save_frames_to=frames_dir if config.render.saved_frames else None,
        video=session_video(config, session_dir),
        stim_refusal=ready.stim_refusal,
        journals=[journal],
    )


def simulated_person(ready: Preflight, answers: dict[str, dict] | None):
    """The simulated patient watching the screen, for whatever part of the patient is
    simulated: the residual-limb EMG (when the EMG source is the simulated patient), the
    intact limb (``tracker.source = "simulated"``), the intact limb's EMG (``tracker.source =
    "intact_emg"`` on a simulated board) and the rating answers (``answers``, by rating block;
    None: a person at the keyboard gives them); None when nothing is."""
    config = ready.config
    scripted_limb = config.tracker.source == "simulated"
    intact_emg = ready.intact_emg.simulated if ready.intact_emg is not None else None
    if (ready.simulated_patient is None and not scripted_limb and intact_emg is None
            and answers is None):
        return None
    from mirrorvr.sim.person import SimulatedPerson, intact_limb_source

    return SimulatedPerson(
        emg=ready.simulated_patient,
        intact=intact_limb_source(config.patient.intact_side, ready.limb)
        if scripted_limb else None,
        answers=answers,
        intact_emg=intact_emg,
        stim_delay_s=config.stim.transport_latency_s + config.stim.device_latency_s,
    )


def intact_limb_driver(ready: Preflight, person, realtime: bool = True):
    """The mirror blocks' intact limb: the configured source (the simulated person's for
    ``tracker.source = "simulated"``), conditioned like any tracker (MirrorDriver); None
    when the protocol has no mirror block and nothing is simulated. ``realtime``: a
    calibration of intact-side EMG trains on a worker (else at once, on a fake clock)."""
    from mirrorvr.tracking.driver import DriverSettings, MirrorDriver

    tracker = ready.config.tracker
    if tracker.source == "simulated":
        if person is None or person.intact is None:
            return None
        source = person.intact
    elif not any(b.kind == "mirror" for b in ready.blocks):
        return None
    else:
        source = intact_limb_source(ready, realtime)
    settings = DriverSettings(
        min_cutoff_hz=tracker.min_cutoff_hz, beta=tracker.beta, d_cutoff_hz=tracker.d_cutoff_hz,
        min_confidence=tracker.min_confidence, lost_after_s=tracker.lost_after_s,
        ease_s=tracker.ease_s)
    return MirrorDriver(source, settings)


def intact_limb_source(ready: Preflight, realtime: bool = True):
    """The intact-limb pose source ``tracker.source`` names, for the patient's intact side."""
    tracker, side, limb = ready.config.tracker, ready.config.patient.intact_side, ready.limb
    if tracker.source == "intact_emg":
        from mirrorvr.tracking.intact_emg import IntactEmgSource

        intact = ready.intact_emg
        return IntactEmgSource(
            intact.source, side, limb, tracker.emg, intact.decoder, accuracy=intact.accuracy,
            calibration_repetitions=tracker.calibration_repetitions,
            min_accuracy_for_stim=tracker.min_accuracy_for_stim,
            silence_s=tracker.emg.silence_s, train_in_background=realtime)
    if tracker.source == "lsl":
        from mirrorvr.tracking.lsl_pose import LslPoseSource

        return LslPoseSource(side, limb, stream_name=tracker.stream_name)
    if tracker.source == "webcam":
        from mirrorvr.tracking.webcam import WebcamSource

        return WebcamSource(side, limb, tracker.camera,
                            model_complexity=tracker.model_complexity)
    if tracker.source == "keyboard":
        from mirrorvr.tracking.manual import KeyboardSource

        return KeyboardSource(side, limb)
    if tracker.source == "gamepad":
        from mirrorvr.tracking.manual import GamepadSource

        return GamepadSource(side, limb)
    from mirrorvr.tracking.replay import ReplaySource

    return ReplaySource(tracker.replay_file, side)


def run_demo(config: SessionConfig, data_dir: Path, **kwargs) -> dict:
    """Build, run and summarise one session; returns the summary (also in summary.json).

    Takes :func:`build_session`'s arguments; the protocol defaults to the configuration's
    (the demo's unless it names another).
    """
    from mirrorvr.catalog.journal import CatalogJournal
    from mirrorvr.render.capture import contact_sheet
    from mirrorvr.session.runner import SessionRunner
    from mirrorvr.session.summary import write_summary

    parts = build_session(config, data_dir, **kwargs)
    try:
        runner = SessionRunner(parts)
        with _signals_end(runner):
            summary = runner.run()
    finally:
        if parts.intact_limb is not None:  # a session ended inside a mirror block
            parts.intact_limb.stop()
        parts.window.close()
    catalogue = next((j for j in parts.journals if isinstance(j, CatalogJournal)), None)
    if catalogue is not None:
        summary["catalogue"] = catalogue.describe()
    if runner.captured:
        sheet = parts.session_dir / "contact_sheet.png"
        labels, images = zip(*runner.captured, strict=True)
        contact_sheet(list(images), list(labels), sheet)
        summary["contact_sheet"] = str(sheet)
    path = write_summary(summary, parts.session_dir)
    if catalogue is not None:  # the files made after the session ended
        catalogue.add_files(path, *([summary["contact_sheet"]] if runner.captured else []))
    return summary


@contextlib.contextmanager
def _signals_end(runner):
    """While a session runs, SIGINT and SIGTERM end it like Esc does, with their own reason
    in the summary; a second SIGINT aborts at once (stimulation still goes off: the
    runner's clean-up runs on the way out)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = {signal.SIGINT: "interrupted (SIGINT)", signal.SIGTERM: "terminated (SIGTERM)"}

    def handler(signum, frame):
        if signum == signal.SIGINT and runner.end_reason == names[signal.SIGINT]:
            raise KeyboardInterrupt
        log.warning("%s: ending the session", names[signum])
        runner.request_stop(names[signum])

    previous = {sig: signal.signal(sig, handler) for sig in names}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)

