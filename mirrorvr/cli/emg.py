"""``mirrorvr emg ...``: EMG commands for researchers and therapists.

``mirrorvr emg evaluate DIR --fs HZ [--pipeline FEATURES:CLASSIFIER ...] [--json]``
evaluates decoding pipelines on labelled recordings (``C_<class>_R_<rep>.csv``, rows =
samples, columns = channels; see :mod:`mirrorvr.emg.evaluate`) with leave-one-repetition-out
cross-validation, and prints accuracy per fold, the mean accuracy and the confusion matrix.

``mirrorvr emg motion-test`` and ``mirrorvr emg tac-test`` calibrate a decoder on the
simulated patient and run the Motion Test / TAC test (:mod:`mirrorvr.emg.realtime_tests`),
printing the summary and saving every trial with ``--json PATH``.

Registered by :func:`mirrorvr.cli._parser` through :func:`add_commands`; each sub-command
sets ``handler`` (``args -> exit code``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mirrorvr.cli.common import positive_float
from mirrorvr.sim.defaults import ATTEMPT_LEVEL


def _mains(text: str) -> float | None:
    if text.lower() in ("none", "off", "0"):
        return None
    return positive_float(text)


def add_commands(subparsers) -> None:
    """Add the ``emg`` command group to the top-level sub-parsers."""
    emg = subparsers.add_parser("emg", help="EMG tools: offline evaluation of decoders",
                                description="EMG tools.")
    emg_sub = emg.add_subparsers(dest="emg_command", metavar="COMMAND")
    emg.set_defaults(handler=lambda args: (emg.print_help(), 2)[1])
    ev = emg_sub.add_parser(
        "evaluate",
        help="leave-one-repetition-out accuracy of decoding pipelines on labelled CSV files",
        description=(
            "Evaluate decoding pipelines on your own labelled recordings. DIR holds one CSV "
            "file per recording named C_<class>_R_<rep>.csv (e.g. C_hand_open_R_0.csv): rows "
            "are samples, columns are channels, an optional header row is skipped. Each file "
            "is filtered (band-pass + mains notch, causal), cut into windows and classified; "
            "fold r trains on every other repetition and tests on repetition r."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ev.add_argument("directory", type=Path, metavar="DIR", help="folder of C_<class>_R_<rep>.csv")
    ev.add_argument("--fs", type=positive_float, required=True, metavar="HZ",
                    help="sampling rate of the recordings, Hz")
    ev.add_argument(
        "--pipeline", action="append", metavar="FEATURES:CLASSIFIER",
        help="features (a set: HTD, HTD+RMS, TDAR, HJORTH, LOGVAR, SPECTRAL, ALL; or names "
        "joined by +, e.g. MAV+WL+AR4; prefix log- for the logarithm of the amplitude "
        "features, e.g. log-HTD) and a classifier (lda, qda, svm, knn, lr, rf, mlp or "
        "sklearn.<module>.<Class>); repeat to compare (default log-HTD:lda, the live decoder's)",
    )
    ev.add_argument("--window-ms", type=positive_float, default=200.0, help="window length")
    ev.add_argument("--increment-ms", type=positive_float, default=50.0, help="window step")
    ev.add_argument("--keep", type=positive_float, default=1.0, metavar="FRACTION",
                    help="middle share of each file used (BioPatRec uses 0.7 on raw cues)")
    ev.add_argument("--bandpass", type=positive_float, nargs=2, default=(20.0, 450.0),
                    metavar=("LOW", "HIGH"), help="band-pass edges, Hz")
    ev.add_argument("--mains", type=_mains, default=50.0, metavar="HZ",
                    help="mains notch frequency, Hz, or 'none'")
    ev.add_argument("--no-filter", action="store_true",
                    help="use the files as they are (already filtered)")
    ev.add_argument("--json", action="store_true", help="print one JSON object instead")
    ev.set_defaults(handler=run_evaluate)

    for name, helptext in (("motion-test", "Motion Test (selection/completion time, completion "
                                           "rate, real-time accuracy) on the simulated patient"),
                           ("tac-test", "TAC test (reach and hold a target posture: completion "
                                        "rate/time, path efficiency) on the simulated patient")):
        rt = emg_sub.add_parser(name, help=helptext, description=helptext,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        rt.add_argument("--movements", default="rest,hand_open,hand_close,wrist_flexion,"
                        "wrist_extension", help="comma-separated classes (one limb)")
        rt.add_argument("--channels", type=int, default=8, help="electrodes")
        rt.add_argument("--seed", type=int, default=0, help="simulated patient's seed")
        rt.add_argument("--repetitions", type=int, default=3, help="trials per movement")
        rt.add_argument("--calibration-repetitions", type=int, default=3,
                        help="3 s contract / 3 s rest cues per movement")
        rt.add_argument("--level", type=positive_float, default=ATTEMPT_LEVEL,
                        help="contraction level the patient attempts, (0, 1]")
        rt.add_argument("--realtime", action="store_true",
                        help="run on the real clock (default: a fake clock, faster)")
        rt.add_argument("--json", type=Path, metavar="PATH", dest="json_path",
                        help="save the result with every trial as JSON")
        rt.set_defaults(handler=run_realtime_test, test=name.split("-")[0])


def _format_result(result) -> str:
    lines = [f"pipeline {result.pipeline}"]
    for r, a, n in zip(result.fold_repetitions, result.fold_accuracies, result.fold_windows,
                       strict=True):
        lines.append(f"  fold repetition {r}: {a:7.2%}  ({n} windows)")
    lines.append(f"  mean accuracy     {result.mean_accuracy:7.2%}  "
                 f"(pooled {result.pooled_accuracy:.2%}, chance {1 / len(result.classes):.0%})")
    width = max(8, *(len(c) for c in result.classes)) + 1
    lines.append("  confusion (rows true, columns predicted):")
    lines.append("  " + " " * width + "".join(f"{c[:width - 1]:>{width}}" for c in result.classes))
    for c, row in zip(result.classes, result.confusion, strict=True):
        lines.append(f"  {c:<{width}}" + "".join(f"{v:>{width}d}" for v in row))
    return "\n".join(lines)


def run_evaluate(args: argparse.Namespace) -> int:
    """Handler of ``mirrorvr emg evaluate``."""
    from mirrorvr.config import build_config
    from mirrorvr.emg.evaluate import (
        DEFAULT_PIPELINE,
        evaluate_pipeline,
        load_labelled_dir,
        parse_pipeline,
        recording_windows,
    )

    # the session's own checks of windows, rate and band-pass, before any file is read
    emg = {"window_s": args.window_ms / 1000.0, "increment_s": args.increment_ms / 1000.0,
           "sampling_rate_hz": args.fs}
    if not args.no_filter:
        emg["bandpass_hz"] = list(args.bandpass)
    build_config({"emg": emg}, "the command line (--window-ms, --increment-ms, --fs, --bandpass)")
    pipelines = [parse_pipeline(p) for p in (args.pipeline or [DEFAULT_PIPELINE])]
    recordings = load_labelled_dir(args.directory)
    windows, labels, reps = recording_windows(
        recordings, args.fs, args.window_ms / 1000.0, args.increment_ms / 1000.0,
        keep_fraction=args.keep,
        bandpass_hz=None if args.no_filter else tuple(args.bandpass),
        mains_hz=args.mains,
    )
    results = [evaluate_pipeline(windows, labels, reps, p, args.fs) for p in pipelines]
    if args.json:
        out = {
            "directory": str(args.directory),
            "sampling_rate_hz": args.fs,
            "n_files": len(recordings),
            "n_channels": int(windows.shape[1]),
            "window_ms": args.window_ms,
            "increment_ms": args.increment_ms,
            "cv_scheme": "leave-one-repetition-out",
            "results": [r.to_dict() for r in results],
        }
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        sys.stdout.write(
            f"{len(recordings)} files, {windows.shape[1]} channels, {windows.shape[0]} windows "
            f"of {args.window_ms:g} ms every {args.increment_ms:g} ms at {args.fs:g} Hz; "
            "leave-one-repetition-out\n"
        )
        for r in results:
            sys.stdout.write(_format_result(r) + "\n")
    return 0


def run_realtime_test(args: argparse.Namespace) -> int:
    """Handler of ``mirrorvr emg motion-test`` and ``mirrorvr emg tac-test``."""
    from mirrorvr.clock import FakeClock, SessionClock
    from mirrorvr.config import SimulatedEmgSettings
    from mirrorvr.emg.calibration import cue_schedule, simulate_calibration, train_decoder
    from mirrorvr.emg.realtime_tests import run_motion_test, run_tac_test
    from mirrorvr.emg.simulator import SimulatedPatient
    from mirrorvr.errors import ConfigError

    movements = tuple(m.strip() for m in args.movements.split(",") if m.strip())
    try:
        settings = SimulatedEmgSettings(movements=movements, n_channels=args.channels)
    except ValueError as err:
        raise ConfigError(f"--movements: {err}") from None
    if not 0 < args.level <= 1:
        raise ConfigError(f"--level: {args.level!r} must be in (0, 1]")
    clock = SessionClock() if args.realtime else FakeClock(0.0)
    patient = SimulatedPatient(clock, n_channels=args.channels, seed=args.seed,
                               movements=movements)
    patient.start()
    cues = cue_schedule(movements, args.calibration_repetitions, 3.0, 3.0)
    decoder, report = train_decoder(simulate_calibration(patient, clock, cues), settings)
    run = run_motion_test if args.test == "motion" else run_tac_test
    result = run(decoder, patient, clock, movements, args.repetitions, patient=patient,
                 level=args.level)
    summary = result.summary
    sys.stdout.write(f"{args.test} test, simulated patient (seed {args.seed}, "
                     f"{args.channels} channels), calibration {report.accuracy:.1%} "
                     "cross-validated\n")
    keys = [k for k in summary if k not in ("per_movement", "n_trials")]
    header = f"{'movement':<22}{'trials':>7}" + "".join(f"{k:>22}" for k in keys)
    sys.stdout.write(header + "\n")
    rows = [("all", summary), *summary["per_movement"].items()]
    for name, block in rows:
        cells = "".join(f"{'-' if block[k] is None else f'{block[k]:.3f}':>22}" for k in keys)
        sys.stdout.write(f"{name:<22}{block['n_trials']:>7}{cells}\n")
    if args.json_path is not None:
        out = result.to_dict()
        out["calibration_accuracy"] = report.accuracy
        out["seed"] = args.seed
        args.json_path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        sys.stdout.write(f"saved {args.json_path}\n")
    return 0
