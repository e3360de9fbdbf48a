"""The whole demo session, end to end: simulated patient and stimulator, offscreen rendering.

These run on a fake clock (``realtime=False``) so they are deterministic and faster than
real time; one short run on the real clock exercises the threads.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from mirrorvr.cli import run_demo
from mirrorvr.cli.compose import DEMO_RATINGS
from mirrorvr.clock import FakeClock
from mirrorvr.config import build_config
from mirrorvr.limb.skeleton import DOF_NAMES
from mirrorvr.sim.demo import demo_patient

pyxdf = pytest.importorskip("pyxdf")

pytestmark = pytest.mark.gl


def _config(duration_s, **render):
    return build_config(
        {
            "protocol": {"duration_s": duration_s},
            "render": {"width": 320, "height": 180, "headless": True, "max_fps": 30, **render},
        }
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    summary = run_demo(_config(40.0), data_dir, clock=FakeClock(1000.0), realtime=False)
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    return summary, {s["info"]["name"][0]: s for s in streams}


def test_summary_reports_a_trained_decoder_and_synchronised_stimulation(demo):
    summary, _ = demo
    assert summary["decoder"]["cv_accuracy"] > 0.8  # 5 classes: chance is 0.2
    assert summary["ems"]["sent"] >= 2 and summary["ems"]["late"] == 0
    asy = summary["asynchrony"]
    # every movement whose trains were all delivered is in the statistics
    assert asy["n"] >= 2 and asy["n"] <= summary["ems"]["delivered"]
    # planned on presentation timestamps: contraction and first photon meet within the
    # simulated transport jitter (1 ms), not a frame (33 ms)
    assert asy["p99_abs_ms"] <= 2.0
    assert summary["ratings"] == DEMO_RATINGS
    with open(summary["session_dir"] + "/summary.json") as f:
        on_disk = json.load(f)
    assert on_disk["decoder"]["cv_accuracy"] == summary["decoder"]["cv_accuracy"]


def test_recording_holds_every_stream_on_one_clock(demo):
    summary, streams = demo
    assert {
        "EMG",
        "decoder",
        "pose_left",
        "pose_right",
        "frames",
        "stimulation",
        "ratings",
        "movement_plan",
        "markers",
    } <= set(streams)
    emg = streams["EMG"]
    fs = float(emg["info"]["nominal_srate"][0])
    assert emg["time_series"].shape[1] == 8 and fs == 2000
    n_expected = summary["duration_s"] * fs
    assert abs(len(emg["time_stamps"]) - n_expected) < 0.01 * n_expected
    assert np.all(np.diff(emg["time_stamps"]) > 0)
    assert len(streams["frames"]["time_stamps"]) == summary["frames"]["rendered"]
    markers = [m[0] for m in streams["markers"]["time_series"]]
    for block in summary["blocks"]:
        assert f"block_start {block}" in markers
    assert any(m.startswith("cue calibration: Close your hand") for m in markers)
    ratings = streams["ratings"]["time_series"][:, 0]
    np.testing.assert_array_equal(ratings, [DEMO_RATINGS["pre"], DEMO_RATINGS["post"]])


def test_dose_log_lists_every_train_and_each_respects_the_patient_limit(demo):
    summary, streams = demo
    events = [json.loads(e[0]) for e in streams["stimulation"]["time_series"]]
    sent = [e for e in events if e["kind"] == "sent"]
    assert len(sent) == summary["ems"]["sent"]
    limits = {c.channel: c.max_tolerated_ma for c in demo_patient().stim_channels}
    for e in sent:
        assert 0 < e["detail"]["amplitude_ma"] <= limits[e["channel"]]
    assert any(e["kind"] == "stopped" for e in events)


def test_mirrored_hand_follows_the_intact_one_by_the_presentation_delay(demo):
    summary, streams = demo
    mk = streams["markers"]
    markers = {m[0]: t for m, t in zip(mk["time_series"], mk["time_stamps"], strict=True)}
    t0, t1 = markers["block_start mirror"], markers["block_end mirror"]
    i = DOF_NAMES.index("index_pip_flexion")
    t = streams["pose_left"]["time_stamps"]
    sel = (t > t0) & (t < t1)
    left = streams["pose_left"]["time_series"][sel, i]
    right = streams["pose_right"]["time_series"][sel, i]
    assert np.ptp(left) > 0.5  # the intact hand really moved
    frame_s = float(np.median(np.diff(t[sel])))
    lags = np.arange(0, 40)
    errors = [np.mean(np.abs(right[k:] - left[: len(left) - k])) for k in lags]
    best_lag_s = lags[int(np.argmin(errors))] * frame_s
    assert abs(best_lag_s - summary["presentation_delay_s"]) <= 1.5 * frame_s
    assert min(errors) < 0.02


def test_frames_and_contact_sheet_are_saved(demo):
    summary, _ = demo
    from pygame.image import load

    assert len(summary["frames_saved"]) == 6
    sheet = load(summary["contact_sheet"])
    assert sheet.get_width() > 320 and sheet.get_height() > 180
    # the catalogue lists them, the contact sheet made after the session too
    from pathlib import Path

    from mirrorvr.catalog import Catalog

    with Catalog.open(Path(summary["session_dir"]).parent.parent) as catalog:
        listed = {f.relative: f.kind
                  for f in catalog.files(summary["catalogue"]["session_id"])}
    assert listed["contact_sheet.png"] == "frame"
    assert {f"frames/{Path(p).name}" for p in summary["frames_saved"]} <= set(listed)


@pytest.mark.slow
@pytest.mark.serial
def test_real_clock_session_with_threads(tmp_path):
    summary = run_demo(_config(25.0), tmp_path, realtime=True)
    assert summary["clock"] == "real"
    # 25 s session: each calibration contraction lasts 1 s (the rehearsal floor) and
    # the simulated patient's repetitions differ (synergy and effort variability), so a
    # leave-one-repetition-out score well above chance (0.2) is what can be asked.
    assert summary["decoder"]["cv_accuracy"] > 0.5
    assert summary["frames"]["rendered"] > 50
    # the timing thread sent trains with the movements (on a loaded machine one may be
    # refused as late: the scheduler never sends late silently)
    assert summary["ems"]["sent"] >= 1


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "mirrorvr", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_cli_refuses_a_too_short_session_before_recording_anything(tmp_path):
    out = _cli(
        "demo", "--headless", "--duration", "5", "--data-dir", str(tmp_path / "d"), cwd=tmp_path
    )
    assert out.returncode == 2
    assert "protocol.duration_s = 5 s is too short" in out.stderr
    assert "use protocol.duration_s >=" in out.stderr
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--size", "big"], "--size: 'big' is not WIDTHxHEIGHT"),
        (["--duration", "-3"], "must be > 0"),
        (["--seed", "x"], "invalid int value"),
    ],
)
def test_cli_bad_arguments_say_what_is_wrong(tmp_path, args, message):
    out = _cli("demo", "--headless", "--data-dir", str(tmp_path), *args, cwd=tmp_path)
    assert out.returncode == 2 and message in out.stderr


def test_stereo_session_with_overlay_records_a_video_of_every_frame(tmp_path):
    cfg = build_config({
        "protocol": {"duration_s": 36.0},
        "render": {"width": 256, "height": 144, "headless": True, "max_fps": 20,
                   "saved_frames": 0, "view": "stereo_sbs", "timing_overlay": True,
                   "record_video": True, "residual": "distinct"},
        "patient": demo_patient().model_dump(mode="json")
        | {"measurements": {"forearm_length_m": 0.24}},
    })
    summary = run_demo(cfg, tmp_path, clock=FakeClock(1000.0), realtime=False)
    video = summary["video"]
    assert video["submitted"] == summary["frames"]["rendered"]
    assert video["written"] + video["dropped"] == video["submitted"]
    from mirrorvr.render.capture import read_video

    meta, clip = read_video(video["video"])
    assert meta["size"] == (256, 144)
    assert clip.shape[1:] == (144, 256, 3) and len(clip) == video["written"]
    # side by side: the left and right eye halves both show the scene
    mid = clip[len(clip) // 2]
    assert mid[:, :128].std() > 5 and mid[:, 128:].std() > 5
