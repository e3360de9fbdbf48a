"""The ``mirrorvr`` command: the only composition root.

It parses the command line, builds the concrete backends (EMG source, window, renderer,
stimulator behind the safety governor, scheduler, watchdog, recorder) and wires them into a
:class:`~mirrorvr.session.runner.SessionRunner`.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import os
import sys
from pathlib import Path

from mirrorvr import __version__
from mirrorvr.config import SessionConfig, build_config, config_to_toml_dict, load_config
from mirrorvr.errors import ConfigError, MirrorVRError

log = logging.getLogger("mirrorvr")

DEFAULT_DATA_DIR = "data"
DEMO_RATINGS = {"pre": 6, "post": 4}


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mirrorvr",
        description="Mirror therapy and phantom motor execution with EMG decoding and "
        "synchronised EMS.",
    )
    parser.add_argument("--version", action="version", version=f"mirrorvr {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
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
    from mirrorvr import cli_emg

    cli_emg.add_commands(sub)  # mirrorvr emg ... (sets args.handler)
    from mirrorvr import cli_stim

    cli_stim.add_commands(sub)  # mirrorvr stim titrate ... (sets args.handler)
    from mirrorvr import cli_data

    cli_data.add_commands(sub)  # mirrorvr patients|sessions|export|report (sets args.handler)
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
    from mirrorvr.session.protocol import build_demo_protocol
    from mirrorvr.session.ratings import ScriptedRater
    from mirrorvr.session.runner import SessionParts
    from mirrorvr.stim.governor import SafetyGovernor
    from mirrorvr.stim.prescription import motor_thresholds_ma
    from mirrorvr.stim.scheduler import SyncScheduler, command_latency
    from mirrorvr.stim.watchdog import Watchdog

    clock = clock or SessionClock()
    build_demo_protocol(config.protocol, config.emg)  # refuses a too-short duration before any I/O
    session_dir = new_session_dir(data_dir, config.patient.pseudonym, "demo")
    (session_dir / "config.json").write_text(
        json.dumps(config_to_toml_dict(config), indent=2) + "\n", encoding="utf-8"
    )
    source, simulated = build_emg_source(config, clock)

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


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["demo", *argv]
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        if args.command == "demo":
            from mirrorvr.session.summary import format_summary

            config = resolve_config(args)
            summary = run_demo(config, args.data_dir, ask_ratings=args.ask_ratings)
            print(format_summary(summary))
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
