"""BrainFlowSource against BrainFlow's synthetic board (no hardware)."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from mirrorvr.clock import SessionClock
from mirrorvr.config import SimulatedEmgSettings
from mirrorvr.emg.brainflow_source import BrainFlowSource, resolve_board_id
from mirrorvr.emg.decoder import Decoder
from mirrorvr.emg.model import DecoderModel
from mirrorvr.errors import AcquisitionError, ConfigError, DecoderError


def test_import_of_emg_package_does_not_load_brainflow_or_sklearn():
    code = ("import sys, mirrorvr.emg; "
            "print('brainflow' in sys.modules, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_synthetic_board_streams_chunks_on_the_session_clock():
    clock = SessionClock()
    source = BrainFlowSource(clock, board="SYNTHETIC_BOARD")
    assert source.sampling_rate_hz == 250.0
    n = len(source.channel_names)
    assert n >= 8 and source.channel_names[0] == "EMG1"
    source.start()
    try:
        chunks = []
        deadline = time.monotonic() + 2.0
        while sum(c.n_samples for c in chunks) < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
            chunk = source.read()
            if chunk is not None:
                chunks.append(chunk)
                now = clock.now()
                assert chunk.data.shape == (n, chunk.n_samples)
                assert chunk.t_s.shape == (chunk.n_samples,)
                assert abs(chunk.t_s[-1] - now) < 0.5
                assert np.all(np.diff(chunk.t_s) >= 0)
        assert sum(c.n_samples for c in chunks) >= 100
        data = np.concatenate([c.data for c in chunks], axis=1)
        assert np.all(np.isfinite(data))
        assert np.max(np.abs(data)) < 0.1  # volts, not µV
        assert np.max(np.abs(data)) > 1e-7
        # the decoder runs at the board's 250 Hz with a band-pass that fits it
        model = DecoderModel(SimulatedEmgSettings(sampling_rate_hz=250.0,
                                                  bandpass_hz=(20.0, 110.0)),
                             250.0, n)
        with pytest.raises(DecoderError, match="not trained"):
            Decoder(model)
        model.check_params()
        filtered = model.new_filter().process(data)
        assert np.all(np.isfinite(filtered))
    finally:
        source.stop()
    source.stop()  # twice is fine
    with pytest.raises(AcquisitionError, match="before start"):
        source.read()


def test_channel_selection_and_board_ids():
    source = BrainFlowSource(SessionClock(), board=-1, channels=[0, 2, 5])
    assert source.board_name == "SYNTHETIC_BOARD"
    assert source.channel_names == ("EMG1", "EMG2", "EMG3")
    assert resolve_board_id("synthetic_board") == (-1, "SYNTHETIC_BOARD")
    assert resolve_board_id("-1") == (-1, "SYNTHETIC_BOARD")
    with pytest.raises(ConfigError, match="channels"):
        BrainFlowSource(SessionClock(), channels=[99])


def test_unknown_board_lists_how_to_find_names():
    with pytest.raises(ConfigError, match=r"board: 'NO_SUCH_BOARD'.*BoardIds"):
        BrainFlowSource(SessionClock(), board="NO_SUCH_BOARD")
    with pytest.raises(ConfigError, match="board: id 123456"):
        BrainFlowSource(SessionClock(), board=123456)
    with pytest.raises(ConfigError, match="not_a_param"):
        BrainFlowSource(SessionClock(), not_a_param=1)


def test_brainflow_error_becomes_acquisition_error():
    from brainflow.board_shim import BrainFlowError

    source = BrainFlowSource(SessionClock(), board="CYTON_BOARD",
                             serial_port="/dev/mirrorvr-no-such-port")
    with pytest.raises(AcquisitionError, match=r"CYTON_BOARD.*exit code 2") as info:
        source.start()
    assert isinstance(info.value.__cause__, BrainFlowError)
    source.stop()


# ---------------------------------------------------------------- robustness


class FlakyBoard:
    """A real synthetic BoardShim whose link can be cut: while ``plan.down`` is set,
    ``get_board_data`` raises BrainFlowError; ``plan.refuse`` re-opens fail first."""

    def __init__(self, plan, board_id, params):
        from brainflow.board_shim import BoardShim

        self.plan = plan
        self.inner = BoardShim(board_id, params)
        plan.opened += 1

    def prepare_session(self):
        from brainflow.board_shim import BrainFlowError

        if self.plan.refuse > 0:
            self.plan.refuse -= 1
            raise BrainFlowError("injected: board not found", 13)
        self.inner.prepare_session()

    def get_board_data(self):
        from brainflow.board_shim import BrainFlowError

        if self.plan.down:
            raise BrainFlowError("injected: board lost", 15)
        return self.inner.get_board_data()

    def __getattr__(self, name):
        return getattr(self.inner, name)


class Plan:
    def __init__(self):
        self.down = False
        self.refuse = 0
        self.opened = 0


def _read_for(source, seconds, chunks):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)
        c = source.read()
        if c is not None:
            chunks.append(c)


def test_lost_board_is_reconnected_and_the_gap_recorded():
    plan = Plan()
    events = []
    source = BrainFlowSource(
        SessionClock(), board="SYNTHETIC_BOARD", reconnect_attempts=4,
        reconnect_backoff_s=0.05, board_factory=lambda bid, p: FlakyBoard(plan, bid, p),
    )
    source.set_event_listener(lambda t, text: events.append(text))
    source.start()
    chunks = []
    try:
        _read_for(source, 0.3, chunks)
        n_before = len(chunks)
        assert n_before > 0 and source.connected
        plan.down = True
        plan.refuse = 2  # the first two re-opens fail too
        _read_for(source, 0.3, chunks)
        assert not source.connected and len(chunks) == n_before  # lost: nothing, no error
        plan.down = False
        _read_for(source, 1.5, chunks)
        assert source.connected and len(chunks) > n_before
    finally:
        source.stop()
    assert plan.opened == 4  # start + 2 refused + 1 good
    assert len(source.gaps) == 1
    gap = source.gaps[0]
    assert gap.attempts == 3 and "exit code 15" in gap.reason
    t = np.concatenate([c.t_s for c in chunks])
    jump = int(np.argmax(np.diff(t)))
    assert gap.start_s == pytest.approx(t[jump]) and gap.end_s == pytest.approx(t[jump + 1])
    assert gap.missing_samples == round(gap.duration_s * 250) - 1 > 50  # >= 0.3 s at 250 Hz
    assert [e.split()[0] for e in events] == [
        "acquisition_lost", "acquisition_reconnected", "acquisition_gap"]
    assert gap.to_dict()["duration_s"] == pytest.approx(gap.duration_s)


def test_board_that_does_not_come_back_fails_after_bounded_attempts():
    plan = Plan()
    source = BrainFlowSource(
        SessionClock(), reconnect_attempts=2, reconnect_backoff_s=0.01,
        board_factory=lambda bid, p: FlakyBoard(plan, bid, p),
    )
    source.start()
    plan.down, plan.refuse = True, 100
    with pytest.raises(AcquisitionError, match="not reconnected after 2 attempt"):
        for _ in range(200):  # bounded: gives up within a few back-offs
            time.sleep(0.01)
            source.read()
    assert plan.opened == 3
    source.stop()


def test_stall_counts_as_a_loss():
    class Silent(FlakyBoard):
        def get_board_data(self):
            data = self.inner.get_board_data()
            return data[:, :0] if self.plan.down else data

    plan = Plan()
    source = BrainFlowSource(SessionClock(), stall_timeout_s=0.2, reconnect_backoff_s=0.05,
                             board_factory=lambda bid, p: Silent(plan, bid, p))
    source.start()
    try:
        plan.down = True
        _read_for(source, 0.5, [])
        plan.down = False
        chunks = []
        _read_for(source, 0.8, chunks)
    finally:
        source.stop()
    assert len(source.gaps) == 1 and "no sample for" in source.gaps[0].reason
    assert chunks


def test_markers_are_inserted_at_cues():
    source = BrainFlowSource(SessionClock(), board="SYNTHETIC_BOARD")
    with pytest.raises(AcquisitionError, match="before start"):
        source.insert_marker(1.0)
    source.start()
    try:
        time.sleep(0.1)
        source.insert_marker(3.0, "cue hand_open")
        with pytest.raises(ConfigError, match="non-zero"):
            source.insert_marker(0.0)
        _read_for(source, 0.4, [])
    finally:
        source.stop()
    assert source.markers[0][1:] == (3.0, "cue hand_open")
    assert [v for _, v in source.received_markers] == [3.0]
    assert abs(source.received_markers[0][0] - source.markers[0][0]) < 0.5


def test_any_board_parameter_and_settings():
    from brainflow.board_shim import BoardIds

    from mirrorvr.config import build_config

    src = BrainFlowSource(SessionClock(), board="PLAYBACK_FILE_BOARD", file="x.csv",
                          master_board="CYTON_BOARD", ip_address="127.0.0.1", ip_port=6677,
                          mac_address="00:11:22:33:44:55", timeout=3)
    assert src._input_params.master_board == BoardIds.CYTON_BOARD.value
    assert src._input_params.ip_port == 6677
    assert src.sampling_rate_hz == 250.0 and len(src.channel_names) == 8  # Cyton's
    cfg = build_config({"emg": {"source": "brainflow", "board": "SYNTHETIC_BOARD",
                                "board_params": {"timeout": 2}, "reconnect_attempts": 1}})
    src = BrainFlowSource.from_settings(SessionClock(), cfg.emg)
    assert src.reconnect_attempts == 1 and src._input_params.timeout == 2
    with pytest.raises(ConfigError, match="reconnect_attempts"):
        BrainFlowSource(SessionClock(), reconnect_attempts=-1)


def test_serial_port_may_come_from_the_field_or_board_params_but_not_both_differently():
    from mirrorvr.config import BrainFlowEmgSettings

    clock = SessionClock()
    by_params = BrainFlowEmgSettings(board_params={"serial_port": "/dev/x"})
    a = BrainFlowSource.from_settings(clock, by_params)
    b = BrainFlowSource.from_settings(clock, BrainFlowEmgSettings(serial_port="/dev/x"))
    assert a._input_params.serial_port == b._input_params.serial_port == "/dev/x"
    with pytest.raises(ConfigError, match="disagree: give the port once"):
        BrainFlowSource.from_settings(
            clock, BrainFlowEmgSettings(serial_port="/dev/x",
                                        board_params={"serial_port": "/dev/y"}))
