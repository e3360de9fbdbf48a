"""BrainFlowSource against BrainFlow's synthetic board (no hardware)."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from mirrorvr.clock import SessionClock
from mirrorvr.config import EmgSettings
from mirrorvr.emg.brainflow_source import BrainFlowSource, resolve_board_id
from mirrorvr.emg.decoder import Decoder
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
        # the decoder's filter copes with 250 Hz (high edge clipped below Nyquist)
        decoder = Decoder(EmgSettings(sampling_rate_hz=250.0), 250.0, n)
        with pytest.raises(DecoderError, match="not trained"):
            decoder.process(chunks[0])
        filtered = decoder.new_filter().process(data)
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
