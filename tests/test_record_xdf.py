"""XDF writer and recorder, checked with pyxdf (the reference reader)."""

import os
import shutil
import struct
import time

import numpy as np
import pytest
import pyxdf

from mirrorvr.clock import FakeClock
from mirrorvr.errors import RecordingError
from mirrorvr.record import Recorder, StreamInfo, XdfWriter
from mirrorvr.record.xdf import varlen_int


def load(path):
    streams, header = pyxdf.load_xdf(str(path), dejitter_timestamps=False,
                                     synchronize_clocks=False)
    return {s["info"]["name"][0]: s for s in streams}, header


def test_varlen_int():
    assert varlen_int(5) == b"\x01\x05"
    assert varlen_int(256) == b"\x04" + struct.pack("<I", 256)
    assert varlen_int(1 << 33) == b"\x08" + struct.pack("<Q", 1 << 33)


def test_round_trip_numeric_string_interleaved(tmp_path):
    clock = FakeClock(100.0)
    rng = np.random.default_rng(1)
    with Recorder(tmp_path / "ses-01", clock) as rec:
        emg = rec.add_stream("emg", "EMG", [f"ch{i}" for i in range(8)], 2000.0, "float32")
        rec.start()
        pose = rec.add_stream("pose", "MoCap", ["wrist", "grip"], 0.0, "double64")
        frames = rec.add_stream("frames", "Frames", ["frame"], 60.0, "int32")
        t_emg, x_emg, t_pose, x_pose = [], [], [], []
        for k in range(20):  # interleaved pushes of several streams
            t = 100.0 + k * 0.05 + np.arange(100) / 2000.0
            x = rng.standard_normal((100, 8)).astype(np.float32) * 1e-4
            rec.push(emg, t, x)
            t_emg.append(t)
            x_emg.append(x)
            tp = np.array([100.0 + k * 0.05 + 0.0123])
            xp = rng.standard_normal((1, 2))
            rec.push(pose, tp, xp)
            t_pose.append(tp)
            x_pose.append(xp)
            rec.push(frames, [100.0 + k / 60], [[k]])
            if k % 5 == 0:
                rec.marker(100.0 + k * 0.05, f"cue {k} hand_close <&>")
    streams, header = load(rec.path)
    assert header["info"]["version"] == ["1.0"]
    assert set(streams) == {"emg", "pose", "frames", "markers"}
    e = streams["emg"]
    assert e["info"]["channel_format"] == ["float32"]
    assert e["info"]["nominal_srate"] == ["2000.0"]
    labels = [c["label"][0] for c in e["info"]["desc"][0]["channels"][0]["channel"]]
    assert labels == [f"ch{i}" for i in range(8)]
    np.testing.assert_array_equal(e["time_stamps"], np.concatenate(t_emg))
    np.testing.assert_array_equal(e["time_series"], np.concatenate(x_emg))
    np.testing.assert_array_equal(streams["pose"]["time_stamps"], np.concatenate(t_pose))
    np.testing.assert_array_equal(streams["pose"]["time_series"], np.concatenate(x_pose))
    assert streams["frames"]["time_series"][:, 0].tolist() == list(range(20))
    m = streams["markers"]
    assert m["info"]["nominal_srate"] == ["0.0"] and m["info"]["channel_format"] == ["string"]
    expected = [f"cue {k} hand_close <&>" for k in (0, 5, 10, 15)]
    assert [row[0] for row in m["time_series"]] == expected
    np.testing.assert_array_equal(m["time_stamps"], [100.0, 100.25, 100.5, 100.75])
    footer = e["footer"]["info"]
    assert footer["sample_count"] == ["2000"]
    assert float(footer["first_timestamp"][0]) == t_emg[0][0]
    assert float(footer["last_timestamp"][0]) == t_emg[-1][-1]


def test_unclosed_file_without_footers_loads(tmp_path):
    path = tmp_path / "crash.xdf"
    w = XdfWriter(path)
    w.add_stream(1, StreamInfo("emg", "EMG", ("a", "b"), 1000.0, "double64"))
    w.add_stream(2, StreamInfo("markers", "Markers", ("m",), 0.0, "string"))
    w.write_samples(1, np.arange(10) / 1000, np.arange(20.0).reshape(10, 2))
    w.write_samples(2, [0.003], [["go"]])
    w.flush()
    # simulate a crash: copy the file as it is on disk, never close the writer
    crashed = tmp_path / "copy.xdf"
    shutil.copy(path, crashed)
    streams, _ = load(crashed)
    assert "footer" not in streams["emg"]
    np.testing.assert_array_equal(streams["emg"]["time_series"], np.arange(20.0).reshape(10, 2))
    assert streams["markers"]["time_series"] == [["go"]]
    w.close()


def test_file_cut_inside_the_last_samples_chunk_keeps_complete_chunks(tmp_path):
    path = tmp_path / "cut.xdf"
    w = XdfWriter(path)
    w.add_stream(1, StreamInfo("emg", "EMG", ("a", "b"), 1000.0, "float32"))
    for k in range(3):
        w.write_samples(1, k + np.arange(50) / 1000, np.full((50, 2), k, np.float32))
        w.flush()
        if k == 1:
            complete_size = os.path.getsize(path)
    w.flush()
    full = path.read_bytes()
    # cut anywhere after the last chunk's length, tag and stream id
    # (pyxdf itself cannot read a file that ends inside a chunk's length/tag bytes; the
    # writer writes whole chunks per write call, so a crashed process never leaves that)
    header_bytes = 1 + 4 + 2 + 4
    for cut in range(complete_size + header_bytes, len(full) - 1, 37):
        cut_path = tmp_path / f"cut{cut}.xdf"
        cut_path.write_bytes(full[:cut])
        streams, _ = load(cut_path)
        ts = streams["emg"]["time_series"]
        assert ts.shape[0] in (100, 150)
        np.testing.assert_array_equal(ts[:100, 0], np.repeat([0.0, 1.0], 50))
    w.close()


def test_bad_pushes_raise_recording_error(tmp_path):
    rec = Recorder(tmp_path, FakeClock())
    emg = rec.add_stream("emg", "EMG", ["a", "b"], 1000.0, "float32")
    with pytest.raises(RecordingError, match=r"'emg'.*\(3, 3\).*expected \(3, 2\)"):
        rec.push(emg, [0.0, 0.001, 0.002], np.zeros((3, 3)))
    with pytest.raises(RecordingError, match=r"'emg'.*t_s must have shape"):
        rec.push(emg, np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(RecordingError, match=r"'emg'.*non-finite"):
        rec.push(emg, [np.nan], np.zeros((1, 2)))
    with pytest.raises(RecordingError, match=r"'emg'.*not float32"):
        rec.push(emg, [0.0], [["x", "y"]])
    with pytest.raises(RecordingError, match=r"'markers'.*expected \(2, 1\)"):
        rec.push(rec.markers, [0.0, 1.0], ["only one"])
    with pytest.raises(RecordingError, match="already exists"):
        rec.add_stream("emg", "EMG", ["a"], 1.0)
    with pytest.raises(RecordingError, match="channel_format"):
        rec.add_stream("x", "X", ["a"], 1.0, "float16")
    rec.start()
    rec.push(emg, [0.0], np.zeros((1, 2)))
    rec.close()
    with pytest.raises(RecordingError, match=r"'emg'.*closed"):
        rec.push(emg, [1.0], np.zeros((1, 2)))
    with pytest.raises(RecordingError, match=r"'markers'.*closed"):
        rec.marker(1.0, "late")
    streams, _ = load(rec.path)
    assert streams["emg"]["time_series"].shape == (1, 2)


def test_push_before_start_and_close_without_start(tmp_path):
    rec = Recorder(tmp_path / "a", FakeClock())
    h = rec.add_stream("v", "Misc", ["x"], 10.0)
    rec.push(h, [0.0, 0.1], [1.0, 2.0])  # (n,) accepted for one channel
    rec.close()
    streams, _ = load(rec.path)
    assert streams["v"]["time_series"][:, 0].tolist() == [1.0, 2.0]


def test_caller_buffers_are_copied(tmp_path):
    rec = Recorder(tmp_path, FakeClock())
    h = rec.add_stream("v", "Misc", ["x"], 10.0)
    buf = np.zeros((2, 1))
    rec.push(h, [0.0, 0.1], buf)
    buf[:] = 99.0  # the hot path reuses its buffer before the writer ran
    rec.close()
    assert load(rec.path)[0]["v"]["time_series"][:, 0].tolist() == [0.0, 0.0]


def test_write_error_keeps_earlier_data_and_refuses_more(tmp_path, monkeypatch):
    rec = Recorder(tmp_path, FakeClock(), flush_interval_s=0.01)
    h = rec.add_stream("v", "Misc", ["x"], 10.0)
    rec.start()
    rec.push(h, [0.0], [[1.0]])
    deadline = time.monotonic() + 5.0
    while rec._writer.sample_count(h.stream_id) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)

    def broken(*args, **kwargs):
        raise RecordingError("disk full")

    monkeypatch.setattr(rec._writer, "write_samples", broken)
    rec.push(h, [0.1], [[2.0]])
    rec._thread.join(timeout=5)
    with pytest.raises(RecordingError, match=r"'v'.*failed earlier.*disk full"):
        rec.push(h, [0.2], [[3.0]])
    with pytest.raises(RecordingError, match="disk full"):
        rec.close()
    streams, _ = load(rec.path)
    assert streams["v"]["time_series"][:, 0].tolist() == [1.0]


def test_unwritable_folder_raises_recording_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    rec = Recorder(blocker / "ses", FakeClock())
    with pytest.raises(RecordingError, match="cannot create session folder"):
        rec.start()
