"""Calibration ramps scale the proportional level: a held contraction at a known effort
decodes closer to that effort than with the level scaled from the held contractions alone."""

import numpy as np
import pytest

from mirrorvr.cli import run_demo
from mirrorvr.clock import FakeClock
from mirrorvr.config import SimulatedEmgSettings, build_config
from mirrorvr.errors import ConfigError
from mirrorvr.session.protocol import limb_movements, plan_protocol
from mirrorvr.sim.defaults import ATTEMPT_LEVEL
from mirrorvr.sim.person import SimulatedPerson

from fakes import NullRenderer, ScriptedWindow, block_spans, protocol

pyxdf = pytest.importorskip("pyxdf")

T0 = 1000.0
RAMPS = protocol(calibration={"ramps": True, "ramp_s": 2.0})


class IntentLog:
    """A residual limb that only notes what the person attempts: (t_s, movement, level)."""

    def __init__(self):
        self.intents = []

    def set_intent(self, movement, level, t_s):
        self.intents.append((t_s, movement, level))


class _Shown:
    """A block as the person sees it: kind, name, cues."""

    def __init__(self, plan):
        self.kind, self.name, self.cues = plan.kind, plan.name, plan.cues
        self.duration_s, self.movements = plan.duration_s, plan.movements


def test_ramps_follow_the_contractions_and_the_person_rises_to_the_calibration_level():
    calib = plan_protocol(RAMPS, limb_movements("upper"))[1]
    ramps = [c for c in calib.cues if c.ramp]
    assert [c.movement for c in ramps] == ["hand_open", "hand_close", "wrist_flexion",
                                          "wrist_extension"]
    assert all(c.end_s - c.start_s == pytest.approx(2 * RAMPS.blocks[1].ramp_s) for c in ramps)
    assert max(c.end_s for c in calib.cues if not c.ramp) <= ramps[0].start_s
    assert ramps[-1].end_s == pytest.approx(calib.duration_s)
    limb = IntentLog()
    person = SimulatedPerson(emg=limb)
    person.on_block(_Shown(calib), 0.0)
    person.step(calib.duration_s + 1.0)
    reaction = person.reaction_s
    levels = [lv for t, _, lv in limb.intents
              if ramps[0].start_s <= t - reaction < ramps[0].end_s]
    peak = int(np.argmax(levels))
    assert levels[0] == 0.0 and max(levels) == pytest.approx(ATTEMPT_LEVEL, abs=0.02)
    assert np.all(np.diff(levels[: peak + 1]) > 0) and np.all(np.diff(levels[peak:]) < 0)


def test_ramps_need_time_and_a_rehearsal_says_how_much():
    too_short = r"protocol\.duration_s = 20 s is too short.*>= (\d+)"
    with pytest.raises(ConfigError, match=too_short) as info:
        plan_protocol(RAMPS, limb_movements("upper"), 20.0)
    shortest = float(str(info.value).rsplit(">= ", 1)[1])
    blocks = plan_protocol(RAMPS, limb_movements("upper"), shortest)
    assert sum(b.duration_s for b in blocks) == pytest.approx(shortest)


def _phantom_levels(tmp_path, ramps):
    cfg = build_config({"protocol": {"duration_s": 60.0},
                        "render": {"max_fps": 30.0, "saved_frames": 0}})
    clock = FakeClock(T0)
    summary = run_demo(cfg, tmp_path, clock=clock, realtime=False,
                       protocol=RAMPS if ramps else protocol(),
                       window=ScriptedWindow(clock, {}), renderer=NullRenderer(clock))
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    intent = next(s for s in streams if s["info"]["name"][0] == "decoder")
    t, x = np.asarray(intent["time_stamps"]), np.asarray(intent["time_series"])
    start, end = block_spans(summary["recording"])["phantom"]
    moving = (t > start) & (t < end) & (x[:, 0] != 0)  # class 0 is rest
    return summary, x[moving, 1]


def test_session_scales_the_level_from_its_ramps(tmp_path):
    summary, levels = _phantom_levels(tmp_path, ramps=True)
    assert summary["decoder"]["level_calibration"] == "ramps"
    assert set(summary["decoder"]["max_mav_v"]) == {"hand_open", "hand_close",
                                                     "wrist_flexion", "wrist_extension"}
    # the phantom block's attempts at the person's level decode near it
    assert len(levels) > 20 and abs(np.median(levels) - ATTEMPT_LEVEL) < 0.2


def test_ramp_calibrated_level_is_monotonic_in_effort():
    """Held contractions at 0.3, 0.5, 0.7, 0.9 of MVC after ramps to 0.7: the decoded level
    rises with effort for every class-averaged effort and stays near it (seed 0: 0.29,
    0.64, 0.74, 0.90; the level scaled from held 0.7 contractions alone: 0.27, 0.59, 0.68,
    0.88 -- in this simulator the ramps are not more accurate, see the commit)."""
    from mirrorvr.emg.calibration import (
        CalibrationRecording,
        CueSegment,
        cue_schedule,
        ramp_windows,
        simulate_calibration,
        train_decoder,
    )
    from mirrorvr.emg.simulator import SimulatedPatient
    from mirrorvr.emg.windowing import sliding_windows

    emg = SimulatedEmgSettings()
    active = [m for m in emg.movements if m != "rest"]
    clock = FakeClock(0.0)
    p = SimulatedPatient(clock, seed=0, movements=emg.movements)
    p.start()
    dec, _ = train_decoder(simulate_calibration(
        p, clock, cue_schedule(emg.movements, 2, 2.0, 2.0), level=0.7), emg)

    def record(until):
        chunks = []
        while clock.now() < until:
            clock.sleep_until(clock.now() + 0.05)
            c = p.read()
            if c is not None:
                chunks.append(c)
        return chunks

    t, segs = clock.now(), []
    for m in active:
        for k in range(80):
            tau = 4.0 * k / 80
            p.set_intent(m, 0.7 * max(0.0, 1 - abs(tau - 2.0) / 2.0), t + tau + 0.2)
        p.set_intent("rest", 0.0, t + 4.2)
        segs.append(CueSegment(m, t, t + 4.0))
        t += 4.0
    ramp_rec = CalibrationRecording.from_chunks(record(t + 0.3), p.sampling_rate_hz, segs,
                                                p.channel_names)
    fits = dec.model.calibrate_levels_from_ramps(ramp_windows(ramp_rec, dec.model, segs, 0.7))
    assert set(fits) == set(active) and all(f["slope_v"] > 0 for f in fits.values())

    efforts = [0.3, 0.5, 0.7, 0.9]
    t, trials = clock.now() + 0.1, []
    for e in efforts:
        for m in active:
            p.set_intent(m, e, t)
            p.set_intent("rest", 0.0, t + 2.0)
            trials.append((m, e, t))
            t += 3.0
    chunks = record(t)
    data = np.concatenate([c.data for c in chunks], 1)
    ts = np.concatenate([c.t_s for c in chunks])
    filt = dec.model.new_filter().process(data)
    mean_level = {e: [] for e in efforts}
    for m, e, t1 in trials:
        i0, i1 = np.searchsorted(ts, t1 + 0.5), np.searchsorted(ts, t1 + 1.8)
        w = sliding_windows(filt[:, i0:i1], dec.model.window_samples, dec.model.increment_samples)
        mean_level[e].append(float(np.median(dec.model.levels(w, [m] * len(w)))))
    got = [float(np.mean(mean_level[e])) for e in efforts]
    assert np.all(np.diff(got) > 0.05), got
    assert np.mean(np.abs(np.array(got) - efforts)) < 0.15, got
