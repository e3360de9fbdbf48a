"""mirrorvr's decoder beside LibEMG's HTD + LDA pipeline, on the same simulated data.

LibEMG pins numpy < 2, so it runs in its own virtual environment (created on first use:
``/tmp/mirrorvr-libemg-venv``, or ``$MIRRORVR_LIBEMG_VENV``; ``pip install "numpy<2" libemg``
from PyPI) as a child process. Not part of the test suite.

Data: a seeded simulated patient (5 upper-limb classes, 8 channels, 2 kHz, 3 × 3 s cues),
filtered once by mirrorvr's causal filter (20–450 Hz + 50 Hz notch) and cut into 200 ms
windows every 50 ms from the middle 70 % of each cue; exported to ``.npz`` so both libraries
see identical windows. Both compute the Hudgins set (MAV, WL, ZC, SSC) and train LDA.

Reported, side by side:

- accuracy: leave-one-repetition-out, per window (no vote);
- offline throughput: features + classification of all test windows in one call, windows/s;
- per-window cost (one window at a time, as online): features + classifier on one window,
  µs. For mirrorvr also the whole live step (``Decoder.process`` on a 50 ms chunk: filter,
  windowing, features, LDA, majority vote, level), which LibEMG's number does not include.

Run: ``.venv/bin/python benchmarks/bench_emg_libemg.py [--seeds 0 1 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from mirrorvr.clock import FakeClock
from mirrorvr.config import EmgSettings
from mirrorvr.emg.calibration import cue_schedule, simulate_calibration, training_windows
from mirrorvr.emg.decoder import Decoder
from mirrorvr.emg.simulator import SimulatedPatient

VENV = Path(os.environ.get("MIRRORVR_LIBEMG_VENV", "/tmp/mirrorvr-libemg-venv"))
SETTINGS = EmgSettings()  # 2 kHz, 200 ms / 50 ms, MAV WL ZC SSC, LDA
REPEATS = 5

LIBEMG_CHILD = textwrap.dedent('''
    import json, sys, time
    import numpy as np
    from libemg.feature_extractor import FeatureExtractor
    from libemg.emg_predictor import EMGClassifier

    d = np.load(sys.argv[1])
    windows, labels, reps = d["windows"], d["labels"], d["reps"]
    fe = FeatureExtractor()
    feats = fe.get_feature_groups()["HTD"]

    def features(w):
        return fe.extract_features(feats, w, array=True)

    out = {"features": feats, "folds": []}
    correct = total = 0
    for r in np.unique(reps):
        train, test = reps != r, reps == r
        clf = EMGClassifier("LDA", silent=True)
        clf.fit(feature_dictionary={"training_features": features(windows[train]),
                                    "training_labels": labels[train]})
        pred, _ = clf.run(features(windows[test]))
        correct += int(np.sum(pred == labels[test]))
        total += int(test.sum())
        out["folds"].append(float(np.mean(pred == labels[test])))
    out["accuracy"] = correct / total
    # throughput on the last fold's test windows
    test_w = windows[test]
    best = []
    for _ in range(int(sys.argv[2])):
        t0 = time.perf_counter()
        clf.run(features(test_w))
        best.append((time.perf_counter() - t0) / len(test_w))
    out["offline_s_per_window"] = float(np.median(best))
    per = []
    for _ in range(int(sys.argv[2])):
        t0 = time.perf_counter()
        for i in range(len(test_w)):
            clf.run(features(test_w[i:i + 1]))
        per.append((time.perf_counter() - t0) / len(test_w))
    out["online_s_per_window"] = float(np.median(per))
    out["numpy"] = np.__version__
    print("RESULT " + json.dumps(out))
''')


def ensure_venv() -> Path:
    """The LibEMG environment's python, creating the venv on first use."""
    python = VENV / "bin" / "python"
    if python.exists():
        ok = subprocess.run([str(python), "-c", "import libemg"], capture_output=True)
        if ok.returncode == 0:
            return python
    print(f"creating {VENV} with libemg and numpy<2 (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "numpy<2", "libemg"], check=True)
    return python


def make_data(seed: int):
    """Filtered training windows of a seeded simulated patient, and a live stream."""
    clock = FakeClock(0.0)
    patient = SimulatedPatient(clock, seed=seed)
    patient.start()
    cues = cue_schedule(SETTINGS.movements, repetitions=3, contract_s=3.0, rest_s=3.0)
    recording = simulate_calibration(patient, clock, cues)
    decoder = Decoder(SETTINGS, recording.sampling_rate_hz, recording.n_channels)
    windows, labels, reps = training_windows(recording, decoder, 0.7)
    index = {c: i for i, c in enumerate(SETTINGS.movements)}
    y = np.array([index[c] for c in labels])
    chunks = []
    for movement in SETTINGS.movements * 2:
        patient.set_intent(movement, 0.0 if movement == "rest" else 0.6)
        for _ in range(20):
            clock.advance(SETTINGS.increment_s)
            chunks.append(patient.read())
    return windows, y, reps, chunks


def run_mirrorvr(windows, y, reps, chunks) -> dict:
    correct = total = 0
    folds = []
    names = np.asarray(SETTINGS.movements)[y]
    for r in np.unique(reps):
        train, test = reps != r, reps == r
        dec = Decoder(SETTINGS, 2000.0, windows.shape[1]).fit(windows[train], names[train])
        pred, _ = dec.predict_windows(windows[test])
        ok = pred == names[test]
        correct += int(ok.sum())
        total += int(test.sum())
        folds.append(float(ok.mean()))
    test_w = windows[test]
    best = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        dec.predict_windows(test_w)
        best.append((time.perf_counter() - t0) / len(test_w))
    per = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for i in range(len(test_w)):
            dec.predict_windows(test_w[i:i + 1])
        per.append((time.perf_counter() - t0) / len(test_w))
    live = []
    for _ in range(REPEATS):
        dec.reset()
        n = 0
        t0 = time.perf_counter()
        for chunk in chunks:
            n += len(dec.process(chunk))
        live.append((time.perf_counter() - t0) / n)
    return {"accuracy": correct / total, "folds": folds,
            "offline_s_per_window": float(np.median(best)),
            "online_s_per_window": float(np.median(per)),
            "live_s_per_window": float(np.median(live)), "numpy": np.__version__}


def run_libemg(python: Path, windows, y, reps) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "windows.npz"
        np.savez(data, windows=windows, labels=y, reps=reps)
        script = Path(tmp) / "libemg_child.py"
        script.write_text(LIBEMG_CHILD)
        proc = subprocess.run([str(python), str(script), str(data), str(REPEATS)],
                              capture_output=True, text=True, check=True)
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    python = ensure_venv()
    rows = []
    for seed in args.seeds:
        windows, y, reps, chunks = make_data(seed)
        mv = run_mirrorvr(windows, y, reps, chunks)
        le = run_libemg(python, windows, y, reps)
        rows.append((seed, windows.shape, mv, le))
    print("HTD + LDA, 5 classes, 8 channels, 2 kHz, 200/50 ms windows, leave-one-repetition-out")
    header = (f"{'seed':>4} {'windows':>8} {'impl':<9}{'accuracy':>9}{'offline win/s':>15}"
              f"{'online us/win':>15}{'live us/win':>13}")
    print(header)
    print("-" * len(header))
    for seed, shape, mv, le in rows:
        for name, r in (("mirrorvr", mv), ("libemg", le)):
            live = f"{r['live_s_per_window'] * 1e6:13.1f}" if "live_s_per_window" in r else \
                f"{'-':>13}"
            print(f"{seed:>4} {shape[0]:>8} {name:<9}{r['accuracy']:>9.2%}"
                  f"{1 / r['offline_s_per_window']:>15.0f}"
                  f"{r['online_s_per_window'] * 1e6:>15.1f}{live}")
    acc_mv = np.mean([r[2]["accuracy"] for r in rows])
    acc_le = np.mean([r[3]["accuracy"] for r in rows])
    off = np.median([r[3]["offline_s_per_window"] / r[2]["offline_s_per_window"] for r in rows])
    on = np.median([r[3]["online_s_per_window"] / r[2]["online_s_per_window"] for r in rows])
    live = np.median([r[3]["online_s_per_window"] / r[2]["live_s_per_window"] for r in rows])
    print(f"mean accuracy: mirrorvr {acc_mv:.2%}, LibEMG {acc_le:.2%}")
    print(f"speed-up (LibEMG time / mirrorvr time): offline {off:.1f}x, online per window "
          f"{on:.1f}x, mirrorvr's whole live step vs LibEMG's features+classifier {live:.1f}x")
    print(f"numpy: mirrorvr {rows[0][2]['numpy']}, LibEMG {rows[0][3]['numpy']}")


if __name__ == "__main__":
    main()
