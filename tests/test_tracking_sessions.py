"""mirror-upper and mirror-lower with every intact-limb source (issue 11).

Each protocol runs as a rehearsal with each ``[tracker] source``: on the fake clock where the
source allows (the simulated patient's scripted limb, keyboard and gamepad through the
window's events, the replay of a recording, intact-side EMG of the simulated patient), in
real time where it must (an LSL outlet, the webcam tracker process on a video file). In
each, the mirror blocks are driven by that source (their onsets name it), and every mirror
frame is a row of the recording's ``tracking`` stream whose tracker sample -> photon
latencies the block's results summarise.
"""

import json
import threading
import time

import numpy as np
import pytest

from mirrorvr.cli import run_demo
from mirrorvr.cli.compose import open_intact_emg_source
from mirrorvr.clock import FakeClock, SessionClock
from mirrorvr.config import SimulatedEmgSettings, build_config
from mirrorvr.session.protocol import limb_movements, load_protocol, plan_protocol
from mirrorvr.tracking.driver import FRAME_CHANNELS
from mirrorvr.tracking.intact_emg import calibrate_on_simulated_patient

from fakes import NullRenderer, ScriptedWindow, block_spans, planned_starts

pyxdf = pytest.importorskip("pyxdf")

#: A left transtibial amputee (the upper-limb sessions use the demo's right transradial one).
LEFT_TRANSTIBIAL = {"pseudonym": "sub-31", "amputated_side": "left",
                    "amputation_level": "transtibial", "screening": {}}
#: Its titrated leg channels, for the sessions that stimulate.
LEG_CHANNELS = [
    {"channel": 0, "site": "tibialis anterior", "electrode_area_cm2": 25,
     "sensory_threshold_ma": 7, "motor_threshold_ma": 15, "max_tolerated_ma": 28},
    {"channel": 1, "site": "gastrocnemius", "electrode_area_cm2": 25,
     "sensory_threshold_ma": 8, "motor_threshold_ma": 17, "max_tolerated_ma": 30}]
LEVEL = {"upper": "transradial", "lower": "transtibial"}
INTACT = {"upper": "left", "lower": "right"}
MIRRORS = ("mirror_1", "mirror_2", "mirror_3")
#: Rehearsal length: three mirror blocks of 2.9 s with a cue each.
REHEARSAL_S = 15.0
FPS = 20.0
#: The residual limb's EMG, which these sessions do not use, as cheap as the engine allows.
RESIDUAL_EMG = {"n_channels": 2, "sampling_rate_hz": 500.0, "bandpass_hz": [20.0, 200.0]}


def _config(limb: str, tracker: dict, duration_s: float = REHEARSAL_S, stimulate=False):
    data = {"tracker": tracker, "stim": {"enabled": stimulate}, "emg": RESIDUAL_EMG,
            "protocol": {"name": f"mirror-{limb}", "duration_s": duration_s},
            "render": {"max_fps": FPS, "saved_frames": 0}}
    if limb == "lower":  # the upper-limb sessions' patient is the demo's
        data["patient"] = LEFT_TRANSTIBIAL | {"stim_channels": LEG_CHANNELS}
    return build_config(data)


def _tracking_protocol(config):
    """The configured mirror protocol without its rating screens: these sessions are about
    the intact limb, and without screens whose length depends on when they are answered,
    the blocks start when planned (presses can be scripted ahead; a replayed session's
    mirror blocks line up with the new one's)."""
    full = load_protocol(config.protocol.name)
    return full.model_copy(update={"blocks": tuple(b for b in full.blocks if b.kind != "rating")})


def _stepped(config, data_dir, keys=None):
    clock = FakeClock(1000.0)
    return run_demo(config, data_dir, protocol=_tracking_protocol(config), clock=clock,
                    realtime=False,
                    window=ScriptedWindow(clock, keys or {}), renderer=NullRenderer(clock))


def _realtime(config, data_dir):
    clock = SessionClock()
    return run_demo(config, data_dir, protocol=_tracking_protocol(config), clock=clock,
                    window=ScriptedWindow(clock, {}), renderer=NullRenderer(clock))


def _streams(summary) -> dict:
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    return {s["info"]["name"][0]: s for s in streams}


def _markers(streams) -> list[tuple[float, str]]:
    m = streams["markers"]
    return [(float(t), v[0]) for t, v in zip(m["time_stamps"], m["time_series"], strict=True)]


def _onsets(streams, source: str) -> list[dict]:
    """The recorded plan entries of mirror onsets driven by ``source``."""
    plan = [json.loads(v[0]) for v in streams["movement_plan"]["time_series"]]
    return [e for e in plan if e["source"] == f"mirror:{source}"]


def _labels(stream) -> list[str]:
    return [c["label"][0] for c in stream["info"]["desc"][0]["channels"][0]["channel"]]


def check_tracking_record(summary, streams, source: str, sample_period_s: float | None):
    """Every mirror block names ``source`` and wrote one ``tracking`` row per frame, and its
    sample -> photon summary is what the rows say. On the fake clock (``sample_period_s``
    given), a frame shows the tracker sample taken D (the presentation delay) before its
    photon time, give or take one sample period; or, where D is shorter than a frame's lead
    (drawing + display latency, <= 28 ms here), the newest sample."""
    tracking = streams["tracking"]
    assert _labels(tracking) == list(FRAME_CHANNELS)
    rows = np.asarray(tracking["time_series"], dtype=float)
    photon_s = np.asarray(tracking["time_stamps"])
    np.testing.assert_allclose(rows[:, FRAME_CHANNELS.index("photon_s")], photon_s)
    results = [summary["results"][name] for name in MIRRORS]
    assert sum(r["frames"] for r in results) == len(photon_s)
    if sample_period_s is not None:  # the fake clock: each row is one of the frames drawn
        assert np.isin(photon_s, np.asarray(streams["frames"]["time_stamps"])).all()
    first = 0
    delay_ms = 1000 * summary["presentation_delay_s"]
    for r in results:
        assert r["intact_limb_source"] == source
        block = rows[first:first + r["frames"]]
        first += r["frames"]
        tracked = block[block[:, FRAME_CHANNELS.index("tracking")] == 1.0]
        assert len(tracked) == r["frames_tracking"]
        sample = tracked[:, FRAME_CHANNELS.index("sample_s")]
        new = np.diff(sample, prepend=np.nan) != 0  # the first frame showing each sample
        latency_ms = 1000 * (tracked[new, FRAME_CHANNELS.index("photon_s")] - sample[new])
        stats = r["sample_to_photon_ms"]
        assert stats["n"] == len(latency_ms)
        if len(latency_ms):
            assert stats["p50"] == pytest.approx(np.percentile(latency_ms, 50), abs=0.01)
        if sample_period_s is not None and len(latency_ms):
            period_ms = 1000 * sample_period_s
            lead_ms = 1000 * 0.008 + 20.0  # display latency + the first render estimate
            assert delay_ms - period_ms - 0.5 <= stats["p50"]
            assert stats["p50"] <= max(delay_ms, lead_ms) + period_ms + 0.5


def _cue_movements(config, limb) -> list[tuple[str, str]]:
    """(block, movement) of every mirror cue of the rehearsal's plan."""
    return [(b.name, c.movement) for b, c in _mirror_cues(config, limb)]


def _mirror_cues(config, limb):
    """(block plan, cue) of every mirror cue of the rehearsal."""
    blocks = plan_protocol(_tracking_protocol(config),
                           limb_movements(limb, LEVEL[limb]), config.protocol.duration_s)
    return [(b, c) for b in blocks if b.kind == "mirror" for c in b.cues]


def check_cues_are_mirrored(summary, streams, config, limb, source: str):
    """Each mirror cue, performed by the simulated patient's intact limb, is shown: the
    first onset the source drives during the cue is the cued movement (intact-side EMG:
    the first or, after a brief wrong decision, the second), and the virtual
    (affected-side) limb shows that movement in most frames of the cue's second half (a
    decoder's brief wrong decision may interrupt it)."""
    from mirrorvr.tracking.classify import PoseClassifier

    onsets = _onsets(streams, source)
    affected = streams["pose_right" if limb == "upper" else "pose_left"]
    shown_t = np.asarray(affected["time_stamps"])
    classify = PoseClassifier(limb)
    starts = {m.split(" ", 1)[1]: t for t, m in _markers(streams) if m.startswith("block_start")}
    for block, cue in _mirror_cues(config, limb):
        begin, end = starts[block.name] + cue.start_s, starts[block.name] + cue.end_s
        during = [e for e in onsets if begin <= e["detected_s"] <= end]
        moves = [e["movement"] for e in during]
        if source == "intact_emg":  # a decoder: one brief wrong first decision is allowed
            assert cue.movement in moves[:2], (block.name, cue, during)
        else:
            assert moves and moves[0] == cue.movement, (block.name, cue, during)
        delay_s = summary["latency"]["presentation_delay_s"][block.name]
        for e in during:  # dated by the sample that showed it, shown D after that sample
            assert e["source_onset_s"] <= e["detected_s"]
            assert e["onset_s"] == pytest.approx(e["source_onset_s"] + delay_s, abs=1e-9)
        late = (shown_t > (begin + end) / 2 + summary["presentation_delay_s"]) & (
            shown_t <= end + summary["presentation_delay_s"])
        shown = [classify.classify(a)[0] for a in np.asarray(affected["time_series"])[late]]
        classify.reset()
        share = shown.count(cue.movement) / len(shown)
        assert share > 0.5, (block.name, cue.movement, shown)


# ------------------------------------------------------------------ fake clock


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """One session per limb with the simulated patient's scripted intact limb (kept for the
    replay test, which plays its pose stream)."""
    out = {}
    for limb in ("upper", "lower"):
        config = _config(limb, {"source": "simulated"})
        summary = _stepped(config, tmp_path_factory.mktemp(f"simulated-{limb}"))
        out[limb] = config, summary, _streams(summary)
    return out


@pytest.mark.parametrize("limb", ["upper", "lower"])
def test_the_simulated_patients_intact_limb_drives_every_mirror_block(simulated, limb):
    config, summary, streams = simulated[limb]
    assert summary["ended"] == "completed"
    onsets = _onsets(streams, "script")
    assert [e["movement"] for e in onsets] == [m for _, m in _cue_movements(config, limb)]
    check_cues_are_mirrored(summary, streams, config, limb, "script")
    check_tracking_record(summary, streams, "script", sample_period_s=1 / 60)
    # the neutral step: the person held the limb in the bind pose (a flat hand, which the
    # classifier reads as partly open), so the offsets are ~0, and no onset was planned then
    offsets = summary["results"]["mirror_1"]["neutral_offsets"]["offsets_rad"]
    assert offsets and max(abs(v) for v in offsets.values()) < np.radians(1.0)
    neutral_end_s = next(t for t, m in _markers(streams) if m.startswith("neutral_offsets"))
    assert min(e["source_onset_s"] for e in onsets) > neutral_end_s
    from mirrorvr.session.summary import format_summary

    p50 = summary["results"]["mirror_2"]["sample_to_photon_ms"]["p50"]
    assert f"mirror_2 script median {p50:.0f} ms" in format_summary(summary)


@pytest.mark.parametrize("limb", ["upper", "lower"])
def test_a_recorded_pose_stream_replays_into_the_mirror_blocks(simulated, limb, tmp_path):
    """The intact limb of an earlier session (its recorded pose stream) drives a new one."""
    _, earlier, earlier_streams = simulated[limb]
    config = _config(limb, {"source": "replay", "replay_file": earlier["recording"]})
    summary = _stepped(config, tmp_path)
    assert summary["ended"] == "completed"
    streams = _streams(summary)
    replayed = {e["movement"] for e in _onsets(streams, "replay")}
    assert replayed and replayed <= {e["movement"] for e in _onsets(earlier_streams, "script")}
    frame_period_s = 1 / FPS  # the earlier session recorded its poses once a frame
    check_tracking_record(summary, streams, "replay", sample_period_s=frame_period_s)


#: (limb, event text, movement it plays) per hand-played source.
PLAYED = {
    ("keyboard", "upper"): ("2", "0", "hand_close"),
    ("keyboard", "lower"): ("2", "0", "ankle_plantarflexion"),
    ("gamepad", "upper"): ("joyaxis 1 0.9", "joyaxis 1 0.0", "hand_close"),
    ("gamepad", "lower"): ("joyaxis 1 0.9", "joyaxis 1 0.0", "ankle_plantarflexion"),
}


@pytest.mark.parametrize("source, limb", list(PLAYED))
def test_keys_and_gamepad_sticks_play_the_mirrored_limb(source, limb, tmp_path):
    """A therapist plays a movement in the first two mirror blocks through the window's
    events; each press is an onset of that movement, named after the source."""
    press, release, movement = PLAYED[(source, limb)]
    config = _config(limb, {"source": source})
    protocol = _tracking_protocol(config)
    starts = planned_starts(config, 1000.0, protocol)
    neutral_s = {b.name: getattr(b.spec, "neutral_s", 0.0) for b in plan_protocol(
        protocol, limb_movements(limb, LEVEL[limb]), config.protocol.duration_s)}
    assert neutral_s["mirror_1"] > 0  # presses during the neutral step are no movement
    keys = {}
    for name in ("mirror_1", "mirror_2"):  # after the neutral step
        keys[starts[name] + neutral_s[name] + 0.6] = press
        keys[starts[name] + neutral_s[name] + 1.8] = release
    summary = _stepped(config, tmp_path, keys)
    assert summary["ended"] == "completed"
    streams = _streams(summary)
    onsets = _onsets(streams, source)
    assert [e["movement"] for e in onsets] == [movement, movement]
    pressed = [t for t, k in sorted(keys.items()) if k == press]
    for entry, t_s in zip(onsets, pressed, strict=True):
        assert 0.0 <= entry["detected_s"] - t_s <= 1.5 / FPS  # the next frame's events
    period_s = 0.005  # the control period: a played source gives a sample at every read
    check_tracking_record(summary, streams, source, sample_period_s=period_s)


def _intact_decoder_file(limb: str, path) -> str:
    """A decoder calibrated offline on the simulated patient's intact-side electrodes (the
    twin the sessions of ``_config(limb, ...)`` use), saved as a model file."""
    config = _config(limb, {"source": "intact_emg"})
    movements = limb_movements(limb, LEVEL[limb])
    clock = FakeClock(0.0)
    twin, _ = open_intact_emg_source(config, clock, limb, movements)
    twin.start()
    decoder, report = calibrate_on_simulated_patient(twin, clock, SimulatedEmgSettings(
        movements=movements), repetitions=2)
    decoder.save(path, report)
    return str(path)


@pytest.mark.parametrize("limb", ["upper", "lower"])
def test_intact_side_emg_from_a_model_file_drives_the_mirror_protocol(limb, tmp_path):
    """The simulated patient performs each mirror cue with its intact limb; electrodes there
    and a decoder calibrated on them earlier (a model file) move the mirrored limb."""
    model = _intact_decoder_file(limb, tmp_path / "intact.npz")
    config = _config(limb, {"source": "intact_emg", "decoder_file": model})
    summary = _stepped(config, tmp_path)
    assert summary["ended"] == "completed"
    streams = _streams(summary)
    check_cues_are_mirrored(summary, streams, config, limb, "intact_emg")
    for name in MIRRORS:
        intact = summary["results"][name]["intact_emg"]
        assert intact["decoder"] == "model file" and intact["cv_accuracy"] > 0.8
    emg = streams["EMG_intact"]
    assert _labels(emg) == [f"EMG{k + 1}" for k in range(8)]
    assert float(emg["info"]["nominal_srate"][0]) == config.tracker.emg.sampling_rate_hz
    # a decision every 50 ms (the decoder's window increment)
    check_tracking_record(summary, streams, "intact_emg",
                          sample_period_s=config.tracker.emg.increment_s)


#: A mirror-only protocol whose first cue cycles calibrate the intact side: three movements,
#: two repetitions (6 cues, 21 s), then three cues mirrored.
def _calibrating_protocol(limb: str) -> dict:
    movements = {"upper": ["hand_open", "hand_close", "wrist_flexion"],
                 "lower": ["ankle_dorsiflexion", "ankle_plantarflexion", "toe_extension"]}
    return {"name": f"mirror-emg-{limb}", "limb": limb, "blocks": [
        {"kind": "mirror", "name": "mirror_1", "duration_s": 31.5,
         "movements": movements[limb]}]}


@pytest.mark.parametrize("limb", ["upper", "lower"])
def test_the_first_mirror_block_calibrates_the_intact_side_then_its_emg_drives(limb, tmp_path):
    """Without a model file, the first cue cycles are demonstrated by the hands while the
    patient performs them with the intact limb; the decoder trained on them is saved and
    drives the rest of the block; the stimulation it triggers follows it."""
    from mirrorvr.session.protocol import parse_protocol

    protocol = parse_protocol(_calibrating_protocol(limb))
    config = _config(limb, {"source": "intact_emg"}, duration_s=None, stimulate=True)
    clock = FakeClock(1000.0)
    summary = run_demo(config, tmp_path, clock=clock, realtime=False, protocol=protocol,
                       window=ScriptedWindow(clock, {}), renderer=NullRenderer(clock))
    assert summary["ended"] == "completed"
    streams = _streams(summary)
    result = summary["results"]["mirror_1"]["intact_emg"]
    assert result["decoder"] == "calibrated in this block"
    assert result["cv_accuracy"] > 0.8
    assert result["classes"] == ["rest", *protocol.blocks[0].movements]
    from mirrorvr.emg.decoder import Decoder

    saved = Decoder.load(result["model_file"])
    assert saved.model.movements == tuple(result["classes"])
    markers = _markers(streams)
    trained_s = next(t for t, m in markers if m.startswith("intact_decoder_trained"))
    start_s = next(t for t, m in markers if m == "block_start mirror_1")
    cues = plan_protocol(protocol, limb_movements(limb, LEVEL[limb]))[0].cues
    assert trained_s == pytest.approx(start_s + cues[6].start_s, abs=0.01)
    plan = [json.loads(v[0]) for v in streams["movement_plan"]["time_series"]]
    demonstrated, mirrored = plan[:6], plan[6:]
    assert [(e["source"], e["movement"]) for e in demonstrated] == [
        ("cue", c.movement) for c in cues[:6]]
    assert all(e["source"] == "mirror:intact_emg" and e["detected_s"] > trained_s
               for e in mirrored)
    for cue in cues[6:]:  # the first onset during each later cue is its movement...
        first = next(e for e in mirrored if e["detected_s"] >= start_s + cue.start_s)
        assert first["movement"] == cue.movement and first["detected_s"] < start_s + cue.end_s
        # ...and, SAFETY.md 14: the decoder passed its threshold, so it was stimulated
        assert first["stim"] and all(r["status"] == "sent" for r in first["stim"])
    assert all(not e["stim"] for e in demonstrated)  # a calibration is not mirror therapy
    emg_t = np.asarray(streams["EMG_intact"]["time_stamps"])
    assert emg_t[0] - start_s < 0.05 and np.diff(emg_t).max() < 0.002


def test_an_untrusted_intact_decoder_moves_the_limb_but_never_stimulates(tmp_path):
    """SAFETY.md 14 for the intact side: below min_accuracy_for_stim the decoded movements
    still move the mirrored limb, but no train follows them, and the block says why."""
    model = _intact_decoder_file("upper", tmp_path / "intact.npz")
    config = _config("upper", {"source": "intact_emg", "decoder_file": model,
                               "min_accuracy_for_stim": 1.0}, stimulate=True)
    summary = _stepped(config, tmp_path)
    streams = _streams(summary)
    onsets = _onsets(streams, "intact_emg")
    assert len(onsets) >= 3 and all(not e["stim"] for e in onsets)
    assert all(e["stim_note"].startswith("intact-side decoder accuracy") for e in onsets)
    held = [summary["results"][b].get("stimulation_held", {}) for b in MIRRORS]
    assert sum(n for h in held for n in h.values()) == len(onsets)
    assert summary["ems"]["sent"] == 0 and summary["ems"]["state"] == "armed"


# ------------------------------------------------------------------ refused before anything


def test_intact_side_emg_is_refused_before_a_session_starts_when_it_cannot_work(tmp_path):
    from mirrorvr.cli.compose import preflight
    from mirrorvr.errors import ConfigError

    short = _config("upper", {"source": "intact_emg"})
    with pytest.raises(ConfigError, match=r"tracker\.calibration_repetitions = 2: the "
                       r"intact-side calibration takes 12 cues .* holds 1 .*decoder_file"):
        preflight(short, tmp_path, FakeClock(0.0))
    lower_model = _intact_decoder_file("lower", tmp_path / "lower.npz")
    wrong_limb = _config("upper", {"source": "intact_emg", "decoder_file": lower_model})
    with pytest.raises(ConfigError, match=r"tracker\.decoder_file = .*lower\.npz.* the mirror "
                       r"blocks cue \['hand_open'"):
        preflight(wrong_limb, tmp_path, FakeClock(0.0))
    four = _config("upper", {"source": "intact_emg", "decoder_file": lower_model,
                             "emg": {"n_channels": 4}})
    with pytest.raises(ConfigError, match=r"tracker\.decoder_file = .*channel layout"):
        preflight(four, tmp_path, FakeClock(0.0))


def test_the_readme_tracker_examples_are_valid_configurations(tmp_path):
    from pathlib import Path

    from mirrorvr.config import load_config

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Mirror therapy with the intact limb", 1)[1].split("\n## ")[0]
    examples = [block.split("```", 1)[0] for block in section.split("```toml\n")[1:]]
    sources = []
    for k, example in enumerate(examples):
        (tmp_path / f"{k}.toml").write_text(example, encoding="utf-8")
        sources.append(load_config(tmp_path / f"{k}.toml").tracker.source)
    assert sources == ["webcam", "intact_emg"]


def test_check_says_where_the_intact_limb_comes_from(tmp_path):
    from mirrorvr.cli.compose import describe_preflight, preflight

    config = _config("upper", {"source": "intact_emg"}, duration_s=None)
    text = describe_preflight(preflight(config, tmp_path, FakeClock(0.0)))
    assert ("tracker      intact_emg: simulated, 8 channels at 2000 Hz, decoder calibrated "
            "in the first mirror block") in text


def test_a_patients_session_refuses_simulated_intact_side_electrodes(tmp_path, capsys):
    from mirrorvr.cli import main

    profile = tmp_path / "p.toml"
    profile.write_text('[patient]\npseudonym = "sub-1"\namputated_side = "right"\n'
                       'amputation_level = "transradial"\n[emg]\nsource = "brainflow"\n'
                       '[tracker]\nsource = "intact_emg"\n')
    assert main(["session", "--profile", str(profile), "--protocol", "mirror-upper",
                 "--no-stim", "--data-dir", str(tmp_path)]) == 2
    assert "tracker.emg.source = 'simulated': a patient's session runs on their own" in (
        capsys.readouterr().err)
    assert not list(tmp_path.glob("sub-1*"))  # refused before anything was recorded


# ------------------------------------------------------------------ real time


def _publish(outlet, script, stop, rate_hz=60.0):
    import pylsl

    t0 = pylsl.local_clock()
    k = 0
    while not stop.is_set():
        t = t0 + k / rate_hz
        if pylsl.local_clock() >= t:
            outlet.push(script.pose_at(t).angles, t, confidence=0.95, processing_s=0.002)
            k += 1
        stop.wait(0.002)


@pytest.mark.slow
@pytest.mark.parametrize("limb", ["upper", "lower"])
@pytest.mark.serial
def test_an_lsl_outlet_drives_the_mirror_protocol_in_real_time(limb, tmp_path):
    """A lab's tracker on LSL plays a movement every 1.5 s; every mirror block (started
    anew, after a rest) finds the stream and mirrors it: the recorded virtual limb follows
    the tracker's script (correlation) at the presentation delay plus the filter's lag."""
    pytest.importorskip("pylsl")
    from mirrorvr.tracking.lsl_pose import PoseOutlet
    from mirrorvr.tracking.scripted import ScriptedIntactHand, ScriptedMovement

    movement = {"upper": "hand_close", "lower": "ankle_dorsiflexion"}[limb]
    name = f"test-{limb}-tracker"
    start = time.monotonic()
    script = ScriptedIntactHand(INTACT[limb], [
        ScriptedMovement(start + 1.5 * k, start + 1.5 * k + 0.7, movement) for k in range(40)],
        limb=limb)
    outlet = PoseOutlet(name, INTACT[limb], limb, rate_hz=60.0, tracker="pose script")
    stop = threading.Event()
    publisher = threading.Thread(target=_publish, args=(outlet, script, stop))
    publisher.start()
    try:
        summary = _realtime(_config(limb, {"source": "lsl", "stream_name": name},
                                    duration_s=15.0), tmp_path)
    finally:
        stop.set()
        publisher.join()
    assert summary["ended"] == "completed"
    streams = _streams(summary)
    onsets = _onsets(streams, f"lsl:{name}")
    blocks = [block_of(streams, e["detected_s"]) for e in onsets]
    assert set(blocks) == set(MIRRORS), blocks
    assert {e["movement"] for e in onsets} == {movement}
    check_tracking_record(summary, streams, f"lsl:{name}", sample_period_s=None)
    delay_s = summary["presentation_delay_s"]
    for block in MIRRORS:
        stats = summary["results"][block]["sample_to_photon_ms"]
        # never less than D minus a sample period (the pose shown is D old)
        assert stats["n"] > 0
        assert stats["p50"] >= 1000 * delay_s - 1000 / 60 - 1
    # the affected (virtual) limb, once each block's tracking is found and eased in
    from mirrorvr.limb.skeleton import limb_spec

    shown = streams["pose_right" if limb == "upper" else "pose_left"]
    t = np.asarray(shown["time_stamps"])
    found = [t_s for t_s, m in _markers(streams) if m.startswith("tracking_found")]
    keep = np.zeros(t.size, dtype=bool)
    for block, (start_s, end_s) in block_spans(summary["recording"]).items():
        if block in MIRRORS:
            found_s = min(f for f in found if start_s <= f <= end_s)
            keep |= (t > found_s + 0.5) & (t < end_s)  # tracker.ease_s
    j = limb_spec(limb).dof_index({"upper": "index_pip_flexion",
                                   "lower": "ankle_dorsiflexion"}[limb])
    got = np.asarray(shown["time_series"])[keep, j]
    lags = np.arange(0.0, 0.4, 0.005)
    corr = [np.corrcoef(got, [script.pose_at(s - lag).angles[j] for s in t[keep]])[0, 1]
            for lag in lags]
    best = lags[int(np.argmax(corr))]
    assert max(corr) > 0.95
    # D plus the filter's lag and a frame or two (real time on a loaded machine)
    assert delay_s <= best <= delay_s + 0.2, best


def block_of(streams, t_s: float) -> str | None:
    """The block running at ``t_s`` (from the recorded markers)."""
    current = None
    for t, m in _markers(streams):
        if t > t_s:
            break
        if m.startswith("block_start "):
            current = m.split(" ", 1)[1]
        elif m.startswith("block_end "):
            current = None
    return current


@pytest.mark.slow
@pytest.mark.gl
@pytest.mark.tracker_env
@pytest.mark.serial
@pytest.mark.parametrize("limb", ["upper", "lower"])
def test_the_webcam_tracker_on_a_video_drives_the_mirror_protocol(limb, tracker_env,
                                                                   tmp_path):
    """The webcam tracker process plays the known-answer video (our rendered limb at known
    angles) in each mirror block; the hand, or the leg of the whole seated body, is tracked
    and mirrored."""
    from mirrorvr.tracking.known_answer import render_known_answer_video

    # mirror blocks of ~10 s: each starts a tracker process (MediaPipe loads, the stream is
    # found: a few s) and the video (~6.7 s) plays in it
    hold_frames, duration_s = 30 if limb == "upper" else 36, 36.0
    video = render_known_answer_video(tmp_path / f"{limb}.mp4", INTACT[limb], limb,
                                      width=320, height=240, neutral_frames=20,
                                      hold_frames=hold_frames, tones=("light",))
    config = _config(limb, {"source": "webcam", "camera": str(video.path)},
                     duration_s=duration_s)
    summary = _realtime(config, tmp_path)
    assert summary["ended"] == "completed"
    streams = _streams(summary)
    check_tracking_record(summary, streams, "webcam", sample_period_s=None)
    tracked = [summary["results"][b]["frames_tracking"] for b in MIRRORS]
    assert all(n > 0 for n in tracked), tracked
    stats = [summary["results"][b]["sample_to_photon_ms"] for b in MIRRORS]
    assert all(s["n"] > 10 for s in stats), stats
    parts = summary["results"]["mirror_1"]["sample_to_photon_parts_ms"]
    assert parts["processing"] > 0  # MediaPipe's time, reported by the process


#: A camera's frame rate, and a frame's draw time on this machine's software rasteriser.
CAMERA_HZ, DRAW_S = 30.0, 0.024


def _session_with_a_tracker_at(rate_hz: float, on_input: bool, data_dir, monkeypatch):
    """The mirror protocol, the simulated intact limb sampled at ``rate_hz``, frames that
    take DRAW_S to draw, on the fake clock."""
    import mirrorvr.sim.person as person

    def at_rate(side, limb, rate_hz_=60.0):
        return person.ScriptSource(person.ScriptedIntactHand(side, [], limb=limb),
                                   rate_hz=rate_hz)

    monkeypatch.setattr(person, "intact_limb_source", at_rate)
    config = build_config({
        "tracker": {"source": "simulated"}, "stim": {"enabled": False}, "emg": RESIDUAL_EMG,
        "protocol": {"name": "mirror-upper", "duration_s": REHEARSAL_S},
        "render": {"max_fps": 60.0, "saved_frames": 0, "frames_on_input": on_input}})
    clock = FakeClock(1000.0)
    summary = run_demo(config, data_dir, protocol=_tracking_protocol(config), clock=clock,
                       realtime=False, window=ScriptedWindow(clock, {}),
                       renderer=NullRenderer(clock, draw_s=DRAW_S))
    return config, summary


@pytest.mark.parametrize("on_input", [True, False])
def test_frames_on_input_show_each_tracker_sample_one_draw_after_it_arrives(
        on_input, tmp_path, monkeypatch):
    """A 30 Hz tracker and 24 ms draws. With ``render.frames_on_input`` a frame starts at
    the control step that takes a sample in, so every sample reaches the eye one draw (plus
    the display latency) after it arrived, and no frame is drawn without a new sample while
    samples come. Drawn continuously (the peer), a sample waits for the frame under way."""
    config, summary = _session_with_a_tracker_at(CAMERA_HZ, on_input, tmp_path, monkeypatch)
    assert summary["presentation_delay_s"] == 0.0  # no stimulation: the newest sample
    streams = _streams(summary)
    check_tracking_record(summary, streams, "script", sample_period_s=None)
    rows = np.asarray(streams["tracking"]["time_series"], dtype=float)
    col = FRAME_CHANNELS.index
    rows = rows[rows[:, col("tracking")] == 1.0]
    first = rows[np.diff(rows[:, col("sample_s")], prepend=np.nan) != 0]
    arrival_to_photon_s = first[:, col("photon_s")] - first[:, col("received_s")]
    received_s = first[:, col("received_s")]
    one_draw_s = DRAW_S + config.render.display_latency_s
    shown_late = arrival_to_photon_s > one_draw_s + 1e-6
    # a sample arriving while a frame is drawn waits for it in any design; so does one
    # arriving as a block starts (its first frame waits for none, and starts first)
    swap_s, draw_ms = np.asarray(streams["frames"]["time_series"], dtype=float)[:, [0, 2]].T
    k = np.minimum(np.searchsorted(swap_s, received_s), swap_s.size - 1)  # next swap
    while_drawing = (received_s > swap_s[k] - draw_ms[k] / 1000.0) & (received_s < swap_s[k])
    starts = [t for t, m in _markers(streams) if m.startswith("block_start mirror")]
    while_drawing |= np.isin(received_s, starts)
    frames = sum(summary["results"][name]["frames"] for name in MIRRORS)
    samples = sum(summary["results"][name]["sample_to_photon_ms"]["n"] for name in MIRRORS)
    if on_input:
        assert not (shown_late & ~while_drawing).any()
        assert while_drawing.mean() < 0.05  # frames start as samples arrive
        assert frames <= samples + 3 * len(MIRRORS)  # a block's first frames wait for none
    else:
        assert shown_late.mean() > 0.5 and while_drawing.mean() > 0.5
        assert frames > 1.2 * samples


def test_frames_on_input_go_on_without_input(tmp_path, monkeypatch):
    """A tracker that sends 2 samples a second: frames still come every
    LONGEST_WAIT_FOR_INPUT_S (the HUD and the easing go on), and the watchdog stays quiet."""
    from mirrorvr.session.runner import LONGEST_WAIT_FOR_INPUT_S

    _, summary = _session_with_a_tracker_at(2.0, True, tmp_path, monkeypatch)
    streams = _streams(summary)
    swap_s = np.asarray(streams["frames"]["time_series"], dtype=float)[:, 0]
    markers = _markers(streams)
    for name in MIRRORS:
        start = next(t for t, m in markers if m == f"block_start {name}")
        end = next(t for t, m in markers if m == f"block_end {name}")
        intervals = np.diff(swap_s[(swap_s > start) & (swap_s < end)])
        assert intervals.max() <= LONGEST_WAIT_FOR_INPUT_S + 1e-6
        assert np.median(intervals) > 2 * DRAW_S  # no continuous drawing either
    assert summary["watchdog"]["trips"] == 0
