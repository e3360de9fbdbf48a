"""Playback of mirrorvr XDF recordings and BrainFlow files, round trip, on a fake clock."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from mirrorvr.clock import FakeClock, SessionClock
from mirrorvr.emg.playback import PlaybackSource
from mirrorvr.emg.simulator import SimulatedPatient
from mirrorvr.errors import AcquisitionError, ConfigError

FS = 2000.0


def _simulated(seconds=1.0, n_channels=4):
    clock = FakeClock(50.0)
    p = SimulatedPatient(clock, n_channels=n_channels, seed=2)
    p.start()
    p.set_intent("hand_open", 0.6, 50.3)
    clock.advance(seconds - 1 / FS)
    return p.read(), p.channel_names


def _drain(source, clock, step_s):
    chunks = []
    for _ in range(100000):
        if source.finished:
            break
        clock.advance(step_s)
        c = source.read()
        if c is not None:
            chunks.append(c)
    return chunks


def test_xdf_round_trip_in_real_time_on_the_session_clock(tmp_path):
    pyxdf = pytest.importorskip("pyxdf")
    from mirrorvr.record import Recorder

    chunk, names = _simulated()
    with Recorder(tmp_path / "ses", FakeClock(50.0)) as rec:
        emg = rec.add_stream("EMG", "EMG", list(names), FS, "float32")
        rec.start()
        rec.push(emg, chunk.t_s, chunk.data.T)
        rec.marker(50.3, "cue hand_open")
    assert pyxdf  # the reference reader is what PlaybackSource uses

    clock = FakeClock(7.0)
    src = PlaybackSource.from_xdf(clock, rec.path)
    assert src.channel_names == names and src.sampling_rate_hz == FS
    src.start()
    assert src.read().n_samples == 1  # sample 0 at start
    assert src.read() is None  # no time passed
    clock.advance(0.1)
    c = src.read()
    assert c.n_samples == 200
    np.testing.assert_allclose(c.t_s, 7.0 + np.arange(1, 201) / FS, atol=1e-9)
    rest = _drain(src, clock, 0.037)
    data = np.concatenate([src.data[:, :201]] + [r.data for r in rest], axis=1)
    np.testing.assert_allclose(data, chunk.data.astype(np.float32), rtol=0, atol=0)
    assert src.finished and src.read() is None
    t_all = np.concatenate([c.t_s] + [r.t_s for r in rest])
    assert np.all(np.diff(t_all) > 0) and t_all[-1] <= clock.now()


def test_speed_and_as_fast_as_asked():
    chunk, names = _simulated(seconds=0.5)
    clock = FakeClock(0.0)
    fast = PlaybackSource(clock, chunk.data, FS, names, chunk.t_s, speed=2.0)
    fast.start()
    clock.advance(0.1)
    c = fast.read()
    assert c.n_samples == 401  # 0.2 s of recording in 0.1 s
    np.testing.assert_allclose(c.t_s[-1], 0.1, atol=1e-9)

    clock = FakeClock(0.0)
    burst = PlaybackSource(clock, chunk.data, FS, names, chunk.t_s, speed=math.inf,
                           chunk_s=0.05)
    burst.start()
    parts = []
    while not burst.finished:
        parts.append(burst.read())  # the clock never moves
    assert len(parts) == 10 and parts[0].n_samples == 101
    np.testing.assert_array_equal(np.concatenate([p.data for p in parts], axis=1), chunk.data)
    np.testing.assert_allclose(np.diff(np.concatenate([p.t_s for p in parts])), 1 / FS,
                               atol=1e-9)


def test_loop_and_gaps_are_kept():
    data = np.arange(10.0)[None, :] * 1e-6
    t = np.array([0, 1, 2, 3, 4, 10, 11, 12, 13, 14]) / 100.0  # 50 ms gap after sample 4
    clock = FakeClock(0.0)
    src = PlaybackSource(clock, data, 100.0, t_s=t, loop=True)
    src.start()
    clock.advance(0.075)
    assert src.read().n_samples == 5  # the gap is not filled
    clock.advance(0.15 - 0.075 + 0.021)  # one pass is 0.15 s; now 0.171 s
    c = src.read()
    np.testing.assert_array_equal(c.data[0] * 1e6, [5, 6, 7, 8, 9, 0, 1, 2])
    np.testing.assert_allclose(c.t_s[-3:], [0.15, 0.16, 0.17], atol=1e-9)
    assert not src.finished


def _write_brainflow_file(path, chunk):
    from brainflow.board_shim import BoardIds, BoardShim
    from brainflow.data_filter import DataFilter

    board = BoardIds.SYNTHETIC_BOARD.value
    rows = BoardShim.get_emg_channels(board)
    raw = np.zeros((BoardShim.get_num_rows(board), chunk.n_samples))
    raw[rows[:chunk.data.shape[0]]] = chunk.data * 1e6  # µV, as boards write
    raw[BoardShim.get_timestamp_channel(board)] = 1.7e9 + np.arange(chunk.n_samples) / 250.0
    DataFilter.write_file(np.ascontiguousarray(raw), str(path), "w")
    return raw


def test_brainflow_file_round_trip(tmp_path):
    chunk, _ = _simulated(seconds=0.4, n_channels=8)
    path = tmp_path / "rec.csv"
    _write_brainflow_file(path, chunk)
    clock = FakeClock(3.0)
    src = PlaybackSource.from_brainflow_file(clock, path, "SYNTHETIC_BOARD",
                                             channels=range(8))
    assert src.sampling_rate_hz == 250.0 and src.n_channels == 8
    src.start()
    parts = _drain(src, clock, 0.05)
    got = np.concatenate([p.data for p in parts], axis=1)
    assert got.shape[1] == chunk.n_samples
    np.testing.assert_allclose(got, chunk.data, atol=1e-11)  # write_file keeps 1e-6 µV
    with pytest.raises(ConfigError, match="path"):
        PlaybackSource.from_brainflow_file(clock, tmp_path / "nope.csv", "SYNTHETIC_BOARD")
    with pytest.raises(ConfigError, match="board"):
        PlaybackSource.from_brainflow_file(clock, path, "NO_SUCH_BOARD")


def test_brainflow_playback_board_through_the_driver(tmp_path):
    """The same file through BrainFlow's PLAYBACK_FILE_BOARD (real driver, real time)."""
    from mirrorvr.emg.brainflow_source import BrainFlowSource

    chunk, _ = _simulated(seconds=0.4, n_channels=8)
    path = tmp_path / "rec.csv"
    _write_brainflow_file(path, chunk)
    clock = SessionClock()
    src = BrainFlowSource(clock, board="PLAYBACK_FILE_BOARD", file=str(path),
                          master_board="SYNTHETIC_BOARD", channels=range(8))
    assert src.sampling_rate_hz == 250.0
    src.start()
    parts = []
    try:
        deadline = time.monotonic() + 10.0
        while sum(p.n_samples for p in parts) < chunk.n_samples and time.monotonic() < deadline:
            time.sleep(0.05)
            c = src.read()
            if c is not None:
                parts.append(c)
    finally:
        src.stop()
    got = np.concatenate([p.data for p in parts], axis=1)
    assert got.shape[1] == chunk.n_samples
    np.testing.assert_allclose(got, chunk.data, atol=1e-11)
    t = np.concatenate([p.t_s for p in parts])
    assert abs(t[-1] - clock.now()) < 5.0  # new timestamps, on the session clock


def test_errors(tmp_path):
    clock = FakeClock()
    with pytest.raises(ConfigError, match="data"):
        PlaybackSource(clock, np.zeros(5), FS)
    with pytest.raises(ConfigError, match="speed"):
        PlaybackSource(clock, np.zeros((1, 5)), FS, speed=0)
    with pytest.raises(ConfigError, match="t_s"):
        PlaybackSource(clock, np.zeros((1, 3)), FS, t_s=[0.0, 2.0, 1.0])
    with pytest.raises(ConfigError, match="channel_names"):
        PlaybackSource(clock, np.zeros((2, 3)), FS, channel_names=["a"])
    src = PlaybackSource(clock, np.zeros((1, 3)), FS)
    with pytest.raises(AcquisitionError, match="before start"):
        src.read()
    bad = tmp_path / "bad.xdf"
    bad.write_bytes(b"not xdf")
    with pytest.raises(AcquisitionError, match="XDF"):
        PlaybackSource.from_xdf(clock, bad)
