"""The ``mirrorvr`` command: the only composition root.

It parses the command line, builds the concrete backends (EMG source, window, renderer,
stimulator behind the safety governor, scheduler, watchdog, recorder) and wires them into a
:class:`~mirrorvr.session.runner.SessionRunner`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from mirrorvr import __version__
from mirrorvr.config import SessionConfig, build_config, config_to_toml_dict, load_config
from mirrorvr.errors import ConfigError, MirrorVRError

log = logging.getLogger("mirrorvr")

DEFAULT_DATA_DIR = "data"
#: Exit codes of a session ended by a signal (128 + the signal's number, as shells report).
SIGNAL_EXIT_CODES = {"interrupted (SIGINT)": 130, "terminated (SIGTERM)": 143}
#: Endings that are the session's or the user's own choice (exit code 0).
NORMAL_ENDINGS = ("completed", "ended by the user (Esc)", "the window was closed")


def session_exit_code(ended: str) -> int:
    """0 for a session that ended as planned or as the user chose, 128 + N for signal N,
    1 for one that a failure ended (the recording, a device, an error)."""
    if ended in NORMAL_ENDINGS:
        return 0
    return SIGNAL_EXIT_CODES.get(ended, 1)
DEMO_RATINGS = {"pre": 6, "post": 4}


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def _verbose_flag() -> argparse.ArgumentParser:
    """``-v`` that every (sub)command accepts, before or after its name."""
    flag = argparse.ArgumentParser(add_help=False)
    flag.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                      help="debug logging")
    return flag


class _SubParsers(argparse._SubParsersAction):
    """Sub-command parsers that all take ``-v`` (``mirrorvr demo -v`` as ``mirrorvr -v demo``)."""

    def add_parser(self, name, **kwargs):
        kwargs["parents"] = [*kwargs.get("parents", []), _verbose_flag()]
        parser = super().add_parser(name, **kwargs)
        parser.register("action", "parsers", _SubParsers)
        return parser


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mirrorvr",
        description="Mirror therapy and phantom motor execution with EMG decoding and "
        "synchronised EMS.",
        parents=[_verbose_flag()],
    )
    parser.register("action", "parsers", _SubParsers)
    parser.add_argument("--version", action="version", version=f"mirrorvr {__version__}")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser(
        "demo",
        help="run a short complete session on the simulated patient and stimulator (default)",
        description=(
            "A complete short session: NRS rating, cued calibration of the EMG decoder, a phantom "
            "motor execution block, a mirror block, NRS rating. Everything is recorded under the "
            "data directory."
        ),
    )
    _session_arguments(demo)
    check = sub.add_parser(
        "check",
        help="check a configuration as a session would before it starts; run nothing",
        description="Every check a session makes before it starts (patient profile, "
        "protocol, data folder, EMG source, stimulation limits), without running it.",
    )
    _session_arguments(check)
    from mirrorvr import cli_emg

    cli_emg.add_commands(sub)  # mirrorvr emg ... (sets args.handler)
    from mirrorvr import cli_stim

    cli_stim.add_commands(sub)  # mirrorvr stim titrate ... (sets args.handler)
    return parser


def _session_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--headless",
        action="store_true",
        default=None,
        help="render offscreen (automatic when there is no display)",
    )
    p.add_argument(
        "--window",
        dest="headless",
        action="store_false",
        help="open a window even if no display was detected",
    )
    p.add_argument(
        "--duration",
        type=_positive_float,
        metavar="SECONDS",
        help="length of the whole session, scaled across blocks (default 60)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("MIRRORVR_DATA", DEFAULT_DATA_DIR)),
        metavar="DIR",
        help="where sessions are recorded (default ./data)",
    )
    p.add_argument("--seed", type=int, help="seed of the simulated patient and devices (default 0)")
    p.add_argument("--config", type=Path, metavar="FILE.toml", help="session configuration (TOML)")
    p.add_argument("--size", metavar="WxH", help="window size, e.g. 1280x720")
    p.add_argument("--no-stim", action="store_true", help="run without stimulation")
    p.add_argument("--view", choices=["mono", "stereo-sbs", "mirror-box"],
                   help="mono (default), stereo side by side for headsets, or mirror box")
    p.add_argument("--timing-overlay", action="store_true",
                   help="show frame timing for the therapist")
    p.add_argument("--record-video", action="store_true",
                   help="record the session as MP4 in the session folder")
    p.add_argument(
        "--ask-ratings",
        action="store_true",
        help="the patient answers the pain ratings on screen (keys 0-9, arrows, Enter)",
    )


def resolve_config(args: argparse.Namespace) -> SessionConfig:
    """The configuration file (or defaults) with command-line overrides applied."""
    base = load_config(args.config) if args.config else SessionConfig()
    data = config_to_toml_dict(base)
    if args.seed is not None:
        data["seed"] = args.seed
    if args.duration is not None:
        data["protocol"]["duration_s"] = args.duration
    if args.no_stim:
        data["stim"]["enabled"] = False
    if args.view:
        data["render"]["view"] = args.view.replace("-", "_")
    if args.timing_overlay:
        data["render"]["timing_overlay"] = True
    if args.record_video:
        data["render"]["record_video"] = True
    if args.headless is not None:
        data["render"]["headless"] = args.headless
    if args.size:
        try:
            w, h = (int(v) for v in args.size.lower().split("x"))
        except ValueError:
            raise ConfigError(
                f"--size: {args.size!r} is not WIDTHxHEIGHT (e.g. 1280x720)"
            ) from None
        data["render"]["width"], data["render"]["height"] = w, h
    return build_config(data, str(args.config or "command line"))


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
    """``data_dir``, created if missing, once it is known to be a writable folder.

    Raises
    ------
    ConfigError
        If it is a file, cannot be created, or cannot be written to.
    """
    data_dir = Path(data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(f"--data-dir: {str(data_dir)!r} is a file, not a folder")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / f".mirrorvr-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ConfigError(
            f"--data-dir: {str(data_dir)!r} cannot be written to ({err.strerror}): choose a "
            "folder you may write in"
        ) from None
    return data_dir


def check_source_matches(source, config: SessionConfig) -> None:
    """Refuse a source whose rate or channel count differs from the configuration: the
    filters, windows and decoder are built for the configured values, and a silently
    different stream would be half-applied (issue: a 250 Hz board read as 2000 Hz)."""
    emg = config.emg
    rate, n = float(source.sampling_rate_hz), len(source.channel_names)
    what = {"brainflow": f"board {emg.board}", "playback": f"file {emg.playback_file}"}.get(
        emg.source, emg.source)
    if abs(rate - emg.sampling_rate_hz) > 1e-6 * emg.sampling_rate_hz:
        raise ConfigError(
            f"emg.sampling_rate_hz = {emg.sampling_rate_hz:g}: the {what} streams at {rate:g} "
            f"Hz; set emg.sampling_rate_hz = {rate:g} (and a bandpass_hz whose high edge is "
            f"below {0.45 * rate:g} Hz) so every filter, window and the decoder follow it"
        )
    if n != emg.n_channels:
        raise ConfigError(
            f"emg.n_channels = {emg.n_channels}: the {what} has {n} EMG channels; set "
            f"emg.n_channels = {n}"
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
    from mirrorvr.stim.simulated import SimulatedStimulator

    device = config.stim.device
    try:
        limits = SafetyGovernor(device, config.patient,
                                SimulatedStimulator(clock, n_channels=device.n_channels), clock)
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
    stim_refusal: str | None
    data_dir: Path
    source: object
    simulated_patient: object | None


def preflight(config: SessionConfig, data_dir: Path, clock) -> Preflight:
    """Every check a session makes before it starts, in the order a user would fix them:
    the patient (SAFETY.md 12), the protocol, the data folder, the EMG source (opened
    lazily: nothing streams yet) against the configuration, and the stimulation settings.

    Raises
    ------
    ConfigError, AcquisitionError
        Naming the field, the value and what is allowed; nothing is recorded yet.
    """
    from mirrorvr.session.protocol import build_demo_protocol

    config, stim_refusal = resolve_patient(config)
    build_demo_protocol(config.protocol, config.emg)  # refuses a too-short duration
    data_dir = check_data_dir(data_dir)
    check_stimulation(config, clock)
    source, simulated = build_emg_source(config, clock)
    check_source_matches(source, config)
    return Preflight(config, stim_refusal, data_dir, source, simulated)


def describe_preflight(ready: Preflight) -> str:
    """What ``mirrorvr check`` found: the session that would run."""
    cfg = ready.config
    p = cfg.patient
    stim = ("disabled" if not cfg.stim.enabled else
            f"{cfg.stim.driver}, would not arm: {ready.stim_refusal}" if ready.stim_refusal
            else f"{cfg.stim.driver}")
    return "\n".join([
        "configuration ok",
        f"  patient      {p.pseudonym} ({p.amputated_side} {p.amputation_level})",
        f"  EMG          {cfg.emg.source}: {len(ready.source.channel_names)} channels at "
        f"{ready.source.sampling_rate_hz:g} Hz",
        f"  stimulation  {stim}",
        f"  data folder  {ready.data_dir}",
    ])


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


def build_emg_source(config: SessionConfig, clock):
    """The EMG source the configuration names, and the simulated patient (or None)."""
    emg = config.emg
    if emg.source == "simulated":
        from mirrorvr.emg.simulator import SimulatedPatient

        patient = SimulatedPatient(
            clock, n_channels=emg.n_channels, sampling_rate_hz=emg.sampling_rate_hz,
            mains_hz=emg.mains_hz, seed=config.seed,
        )
        return patient, patient
    if emg.source == "playback":
        from mirrorvr.emg.playback import PlaybackSource

        if emg.playback_file.lower().endswith(".xdf"):
            return PlaybackSource.from_xdf(clock, emg.playback_file), None
        return PlaybackSource.from_brainflow_file(clock, emg.playback_file, emg.board), None
    from mirrorvr.emg.brainflow_source import BrainFlowSource

    return BrainFlowSource.from_settings(clock, emg), None


def build_stimulator(config: SessionConfig, clock):
    """The stimulator driver the configuration names (the governor will be its only user)."""
    from mirrorvr.stim.prescription import motor_thresholds_ma

    stim = config.stim
    thresholds = motor_thresholds_ma(config.patient)
    if stim.driver == "openemsstim":
        from mirrorvr.stim.openemsstim import OpenEMSStimDriver

        return OpenEMSStimDriver(
            stim.serial_port,
            clock,
            stim.full_scale_ma,
            stim.pulse_width_us,
            stim.frequency_hz,
            transport_latency_s=stim.transport_latency_s,
            device_latency_s=stim.device_latency_s,
            electromechanical_delay_s=stim.electromechanical_delay_s,
            motor_threshold_ma=thresholds,
        )
    if stim.driver == "rehastim2":
        from mirrorvr.stim.rehastim import RehaStimDriver

        return RehaStimDriver(
            stim.serial_port,
            clock,
            stim.frequency_hz,
            transport_latency_s=stim.transport_latency_s,
            device_latency_s=stim.device_latency_s,
            electromechanical_delay_s=stim.electromechanical_delay_s,
            motor_threshold_ma=thresholds,
        )
    from mirrorvr.stim.simulated import SimulatedStimulator

    return SimulatedStimulator(
        clock,
        transport_latency_s=stim.transport_latency_s,
        transport_jitter_s=stim.transport_jitter_s,
        device_latency_s=stim.device_latency_s,
        electromechanical_delay_s=stim.electromechanical_delay_s,
        n_channels=stim.device.n_channels,
        seed=config.seed,
        motor_threshold_ma=thresholds,
    )


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
    clock=None,
    realtime: bool = True,
    ask_ratings: bool = False,
    window=None,
    renderer=None,
):
    """Build every concrete backend for a demo session and return its :class:`SessionParts`.

    ``window`` and ``renderer`` replace the OpenGL ones when given (tests without GL).
    """
    from mirrorvr.clock import SessionClock
    from mirrorvr.record.recorder import Recorder
    from mirrorvr.render.renderer import Renderer
    from mirrorvr.session.ratings import ScriptedRater
    from mirrorvr.session.runner import SessionParts
    from mirrorvr.stim.governor import SafetyGovernor
    from mirrorvr.stim.prescription import motor_thresholds_ma
    from mirrorvr.stim.scheduler import SyncScheduler, command_latency
    from mirrorvr.stim.watchdog import Watchdog

    clock = clock or SessionClock()
    ready = preflight(config, data_dir, clock)
    config, stim_refusal, source, simulated = (
        ready.config, ready.stim_refusal, ready.source, ready.simulated_patient)
    session_dir = new_session_dir(ready.data_dir, config.patient.pseudonym, "demo")
    (session_dir / "config.json").write_text(
        json.dumps(config_to_toml_dict(config), indent=2) + "\n", encoding="utf-8"
    )

    stim = config.stim
    driver = build_stimulator(config, clock)
    recorder = Recorder(session_dir, clock)
    governor = SafetyGovernor(
        stim.device,
        config.patient,
        driver,
        clock,
    )
    scheduler = SyncScheduler(
        governor,
        clock,
        command_latency(stim, motor_thresholds_ma(config.patient)),
        late_tolerance_s=stim.late_tolerance_s,
    )
    watchdog = Watchdog(clock, stim.watchdog_timeout_s, on_timeout=governor.all_off)

    if window is None:
        window = open_session_window(config)
    if renderer is None:
        renderer = Renderer(
            window, config.render, appearance=patient_appearance(config),
            view=config.render.view, timing_overlay=config.render.timing_overlay,
        )
    frames_dir = session_dir / "frames"
    frames_dir.mkdir()
    parts = SessionParts(
        config=config,
        session_dir=session_dir,
        clock=clock,
        emg_source=source,
        window=window,
        renderer=renderer,
        governor=governor,
        scheduler=scheduler,
        watchdog=watchdog,
        recorder=recorder,
        tracker=None,
        simulated_patient=simulated,
        rater=None if ask_ratings else ScriptedRater(DEMO_RATINGS),
        realtime=realtime,
        save_frames_to=frames_dir if config.render.saved_frames else None,
        video=session_video(config, session_dir),
        stim_refusal=stim_refusal,
    )
    return parts


def run_demo(
    config: SessionConfig,
    data_dir: Path,
    *,
    clock=None,
    realtime: bool = True,
    ask_ratings: bool = False,
    window=None,
    renderer=None,
) -> dict:
    """Build, run and summarise one demo session; returns the summary (also in summary.json)."""
    from mirrorvr.render.capture import contact_sheet
    from mirrorvr.session.runner import SessionRunner
    from mirrorvr.session.summary import write_summary

    parts = build_session(
        config, data_dir, clock=clock, realtime=realtime, ask_ratings=ask_ratings,
        window=window, renderer=renderer,
    )
    try:
        runner = SessionRunner(parts)
        with _signals_end(runner):
            summary = runner.run()
    finally:
        parts.window.close()
    if runner.captured:
        sheet = parts.session_dir / "contact_sheet.png"
        labels, images = zip(*runner.captured, strict=True)
        contact_sheet(list(images), list(labels), sheet)
        summary["contact_sheet"] = str(sheet)
    write_summary(summary, parts.session_dir)
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


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["demo", *argv]
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        if args.command == "demo":
            from mirrorvr.session.summary import format_summary

            config = resolve_config(args)
            summary = run_demo(config, args.data_dir, ask_ratings=args.ask_ratings)
            print(format_summary(summary))
            return session_exit_code(summary["ended"])
        if args.command == "check":
            from mirrorvr.clock import SessionClock

            ready = preflight(resolve_config(args), args.data_dir, SessionClock())
            print(describe_preflight(ready))
            return 0
        if getattr(args, "handler", None) is not None:
            return args.handler(args)
        parser.print_help()
        return 2
    except MirrorVRError as err:
        print(f"mirrorvr: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "mirrorvr: interrupted; stimulation is off and the recording is closed", file=sys.stderr
        )
        return 130
