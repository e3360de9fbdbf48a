"""EMG onset to decision on the simulated patient, for several decoder designs in one run.

For each design (windows / increment / vote, onset pass-through and how often it is looked
for, how the decoder was trained)
a decoder is calibrated on the simulated patient (FakeClock, seeded; 3 repetitions of 3 s),
then 60 contractions at random efforts (30-90 %) start at random times; each is decided from
10 ms reads. Per design:

* latency: first decision of the attempted class that the next 3 decisions confirm, minus
  the true onset (median, p10, p90);
* wrong first: attempts whose first non-rest decision was another movement;
* live accuracy: decisions of the attempted class in the steady part (after 0.5 s);
* CV accuracy: the calibration's leave-one-repetition-out window accuracy.

Run: ``.venv/bin/python benchmarks/bench_emg_latency.py``.
"""

from __future__ import annotations

import numpy as np

from mirrorvr.clock import FakeClock
from mirrorvr.config import SimulatedEmgSettings
from mirrorvr.emg.calibration import cue_schedule, simulate_calibration, train_decoder
from mirrorvr.emg.simulator import SimulatedPatient

NO_PASS = 1.01  # an onset confidence no window reaches: every onset waits for the vote

#: (name, EmgSettings changes, train onset windows, sure onsets looked for at the increments
#: only (as where an onset stimulates) instead of every ``onset_step_s``)
DESIGNS = [
    ("today: 200/50 ms, vote 5, middle only", dict(window_s=0.2, increment_s=0.05,
                                                    onset_confidence=NO_PASS), False, True),
    ("200/50 ms, vote 5, + onset windows", dict(window_s=0.2, increment_s=0.05,
                                                 onset_confidence=NO_PASS), True, True),
    ("150/25 ms, vote 5, + onset windows", dict(onset_confidence=NO_PASS), True, True),
    ("1 sure window, at the increments", dict(onset_windows=1), True, True),
    ("new, no EMS: 1 sure window, every 5 ms", dict(onset_windows=1), True, False),
    ("1 sure window, every 12.5 ms", dict(onset_windows=1, onset_step_s=0.0125), True,
     False),
    ("new, with EMS: 2 sure, at the increments", dict(onset_windows=2), True, True),
    ("150/20 ms, vote 5, 1 sure window", dict(increment_s=0.02, onset_windows=1), True,
     True),
    ("150/20 ms, vote 5, 2 sure windows", dict(increment_s=0.02, onset_windows=2), True,
     True),
    ("100/20 ms, no vote (reference)", dict(window_s=0.1, increment_s=0.02, majority_vote=1,
                                            onset_confidence=NO_PASS), False, True),
]


def run(changes: dict, onset_windows: bool, at_increments: bool, trials: int = 60,
        seed: int = 0):
    settings = SimulatedEmgSettings(**changes)
    clock = FakeClock(0.0)
    patient = SimulatedPatient(clock, seed=seed)
    patient.start()
    rec = simulate_calibration(patient, clock, cue_schedule(settings.movements, 3, 3.0, 3.0))
    decoder, report = train_decoder(rec, settings,
                                    onset_active_s=0.05 if onset_windows else None)
    rng = np.random.default_rng(seed)
    active = [m for m in settings.movements if m != "rest"]
    latency, wrong, correct, total = [], 0, 0, 0
    decoder.set_onset_windows(settings.onset_windows, at_increments=at_increments)
    decoder.reset()
    patient.read()
    for k in range(trials):
        movement = active[k % len(active)]
        onset = clock.now() + rng.uniform(0.0, 0.05)
        patient.set_intent(movement, float(rng.uniform(0.3, 0.9)), onset)
        intents = []
        for _ in range(150):  # 1.5 s
            clock.advance(0.01)
            intents += decoder.process(patient.read())
        labels = [i.movement for i in intents]
        first = next((i for i in intents if i.t_s >= onset and i.movement != "rest"), None)
        wrong += first is not None and first.movement != movement
        for j, i in enumerate(intents):
            if i.t_s >= onset and labels[j:j + 4] == [movement] * 4:
                latency.append(1000 * (i.t_s - onset))
                break
        steady = [i for i in intents if i.t_s > onset + 0.5]
        correct += sum(i.movement == movement for i in steady)
        total += len(steady)
        patient.set_intent("rest", 0.0)
        for _ in range(100):
            clock.advance(0.01)
            decoder.process(patient.read())
    return report.accuracy, correct / total, np.array(latency), wrong, trials - len(latency)


def main():
    print("design                                   | CV acc | live acc | latency ms: median "
          "p10 p90 | wrong first | missed")
    for name, changes, onset_windows, at_increments in DESIGNS:
        cv, live, lat, wrong, missed = run(changes, onset_windows, at_increments)
        print(f"{name:<40} | {cv:6.1%} | {live:8.1%} | {np.median(lat):6.0f} "
              f"{np.percentile(lat, 10):5.0f} {np.percentile(lat, 90):5.0f} | "
              f"{wrong:4d} / 60 | {missed}")


if __name__ == "__main__":
    main()
