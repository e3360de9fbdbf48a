"""Decode cost per window: mirrorvr's vectorised pipeline against a naive peer, same run.

Both decode the same simulated stream (2 kHz, 200 ms windows every 50 ms, MAV/WL/ZC/SSC,
LDA, majority vote 5), fed as live 50 ms chunks, so each ``process`` call completes one
window. The cost covers filter + windowing + features + classifier + vote.

- ``mirrorvr``: :class:`mirrorvr.emg.decoder.Decoder` as shipped (features in one compiled
  pass over windows and channels, amplitude features logged, one ``predict_proba`` per chunk
  through the numpy LDA path).
- ``naive``: the same decoder, with the features computed by Python loops over windows and
  channels (numpy on each 1-D channel, the way much EMG code is written) and one
  scikit-learn ``predict_proba`` call per window.

Usage: ``python benchmarks/bench_decode.py``. ``measure_decode()`` returns the rows for a
combined benchmark script. Timings are wall-clock medians of repeated passes.
"""

from __future__ import annotations

import time

import numpy as np

from mirrorvr.clock import FakeClock
from mirrorvr.config import SimulatedEmgSettings
from mirrorvr.emg.calibration import cue_schedule, simulate_calibration, train_decoder
from mirrorvr.emg.decoder import Decoder
from mirrorvr.emg.intent import Intent
from mirrorvr.emg.simulator import SimulatedPatient
from mirrorvr.emg.source import EmgChunk
from mirrorvr.movements import REST

FS = 2000.0


def _naive_features(windows: np.ndarray, log_amplitude: bool) -> np.ndarray:
    """MAV, WL, ZC, SSC with loops over windows and channels (feature-major columns)."""
    n_windows, n_channels, _ = windows.shape
    out = np.empty((n_windows, 4 * n_channels))
    for i in range(n_windows):
        for c in range(n_channels):
            x = windows[i, c]
            d = np.diff(x)
            out[i, c] = np.mean(np.abs(x))
            out[i, n_channels + c] = np.sum(np.abs(d))
            out[i, 2 * n_channels + c] = np.sum(x[:-1] * x[1:] < 0)
            out[i, 3 * n_channels + c] = np.sum((x[1:-1] - x[:-2]) * (x[1:-1] - x[2:]) >= 0)
    if log_amplitude:
        out[:, :2 * n_channels] = np.log(np.maximum(out[:, :2 * n_channels], 1e-12))
    return out


def _naive_process(decoder: Decoder, chunk: EmgChunk) -> list[Intent]:
    windows, t_end = decoder.windower.push(chunk.t_s, decoder.filter.process(chunk.data))
    model = decoder.model
    classifier = model.classifier_
    intents = []
    for i in range(windows.shape[0]):
        features = _naive_features(windows[i:i + 1], model.settings.log_amplitude)
        proba = classifier.estimator.predict_proba(features)[0]  # plain scikit-learn
        raw = classifier.classes_[int(np.argmax(proba))]
        movement = decoder.vote.update(raw)
        level = 0.0 if movement == REST else float(model.levels(windows[i:i + 1], [movement])[0])
        intents.append(Intent(float(t_end[i]), movement, level,
                              float(proba[classifier.classes_.index(movement)])))
    return intents


def _setup(n_channels: int, seed: int = 0):
    settings = SimulatedEmgSettings(n_channels=n_channels, sampling_rate_hz=FS)
    # windows at the increments only (the naive peer has no onset checks between them)
    settings = settings.model_copy(update={"onset_step_s": settings.increment_s})
    clock = FakeClock(0.0)
    patient = SimulatedPatient(clock, n_channels=n_channels, sampling_rate_hz=FS, seed=seed)
    patient.start()
    cues = cue_schedule(settings.movements, repetitions=2, contract_s=2.0, rest_s=2.0)
    decoder, _ = train_decoder(simulate_calibration(patient, clock, cues), settings)
    chunks = []
    for movement in settings.movements * 2:
        patient.set_intent(movement, 0.0 if movement == REST else 0.6)
        for _ in range(20):
            clock.advance(settings.increment_s)
            chunks.append(patient.read())
    return decoder, chunks


def _time(fn, decoder: Decoder, chunks: list[EmgChunk], repeats: int) -> tuple[float, int, list]:
    best = []
    for _ in range(repeats):
        decoder.reset()
        n_windows = 0
        out = []
        t0 = time.perf_counter()
        for chunk in chunks:
            intents = fn(decoder, chunk)
            n_windows += len(intents)
            out += intents
        best.append((time.perf_counter() - t0) / max(n_windows, 1))
    return float(np.median(best)), n_windows, out


def measure_decode(channels=(8, 16), repeats: int = 5) -> list[dict]:
    """Rows of {impl, n_channels, us_per_window, windows_per_s, speedup, n_windows}."""
    rows = []
    for n_channels in channels:
        decoder, chunks = _setup(n_channels)
        fast, n_fast, out_fast = _time(Decoder.process, decoder, chunks, repeats)
        slow, n_slow, out_slow = _time(_naive_process, decoder, chunks, repeats)
        same = [i.movement for i in out_fast] == [i.movement for i in out_slow]
        for impl, sec, n in (("mirrorvr", fast, n_fast), ("naive", slow, n_slow)):
            rows.append({
                "impl": impl, "n_channels": n_channels, "us_per_window": sec * 1e6,
                "windows_per_s": 1.0 / sec, "speedup": slow / sec, "n_windows": n,
                "same_decisions": same,
            })
    return rows


def format_table(rows: list[dict]) -> str:
    header = (f"{'impl':<10}{'channels':>9}{'us/window':>12}{'windows/s':>12}"
              f"{'speed-up':>10}{'same':>6}")
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(f"{r['impl']:<10}{r['n_channels']:>9}{r['us_per_window']:>12.1f}"
                     f"{r['windows_per_s']:>12.0f}{r['speedup']:>9.2f}x{str(r['same_decisions']):>6}")
    return "\n".join(lines)


def main() -> None:
    print("decode cost per window: 2 kHz, 200 ms / 50 ms, MAV WL ZC SSC + LDA + vote 5")  # noqa: T201
    print(format_table(measure_decode()))  # noqa: T201


if __name__ == "__main__":
    main()
