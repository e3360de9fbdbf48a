"""EMG-onset-to-decision latency on the simulated patient, for several windowings.

For each windowing (window / increment / majority vote) a decoder is calibrated on the
simulated patient (FakeClock, seeded), then 60 contractions are started at random times
within a 50 ms read cycle; latency = time of the first decision of the cued class (after
which the next 3 decisions agree) minus the intent onset. Also prints the live accuracy of
the steady part. Run: ``.venv/bin/python benchmarks/bench_emg_latency.py``.
"""

from __future__ import annotations

import numpy as np

from mirrorvr.clock import FakeClock
from mirrorvr.config import EmgSettings
from mirrorvr.emg.calibration import cue_schedule, simulate_calibration, train_decoder
from mirrorvr.emg.simulator import SimulatedPatient

WINDOWINGS = [(0.2, 0.05, 5), (0.2, 0.05, 3), (0.15, 0.025, 3), (0.1, 0.025, 3), (0.1, 0.02, 1)]


def run(window_s, increment_s, vote, trials=60, seed=0):
    settings = EmgSettings(window_s=window_s, increment_s=increment_s, majority_vote=vote)
    clock = FakeClock(0.0)
    patient = SimulatedPatient(clock, seed=seed)
    patient.start()
    rec = simulate_calibration(patient, clock, cue_schedule(settings.movements, 3, 3.0, 3.0))
    decoder, report = train_decoder(rec, settings)
    rng = np.random.default_rng(seed)
    active = [m for m in settings.movements if m != "rest"]
    lat, correct, total = [], 0, 0
    decoder.reset()
    patient.read()
    for k in range(trials):
        movement = active[k % len(active)]
        onset = clock.now() + rng.uniform(0.0, 0.05)
        patient.set_intent(movement, 0.6, onset)
        intents = []
        for _ in range(30):  # 1.5 s
            clock.advance(0.05)
            intents += decoder.process(patient.read())
        labels = [i.movement for i in intents]
        for j, i in enumerate(intents):
            if i.t_s >= onset and labels[j:j + 4] == [movement] * len(labels[j:j + 4]):
                lat.append(i.t_s - onset)
                break
        steady = [i for i in intents if i.t_s > onset + 0.5]
        correct += sum(i.movement == movement for i in steady)
        total += len(steady)
        patient.set_intent("rest", 0.0)
        for _ in range(20):
            clock.advance(0.05)
            decoder.process(patient.read())
    lat_ms = 1000 * np.array(lat)
    return report.accuracy, correct / total, lat_ms, trials - len(lat)


def main():
    print("windowing (window/increment/vote) | CV acc | live acc | latency ms: median p10 p90 max"
          " | missed")
    for w, inc, vote in WINDOWINGS:
        cv, live, lat, missed = run(w, inc, vote)
        print(f"{w * 1000:4.0f} / {inc * 1000:3.0f} ms / {vote}          | {cv:6.1%} | "
              f"{live:8.1%} | {np.median(lat):6.0f} {np.percentile(lat, 10):5.0f} "
              f"{np.percentile(lat, 90):5.0f} {lat.max():5.0f} | {missed}")


if __name__ == "__main__":
    main()
