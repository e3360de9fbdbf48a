"""A Cyton session through BrainFlow's unchanged Cyton driver, against a pty emulator."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from mirrorvr.clock import SessionClock
from mirrorvr.emg.brainflow_source import BrainFlowSource
from mirrorvr.errors import ConfigError

# a device emulator on a pty answers in real time: run alone (./dev test)
pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty"),
              pytest.mark.serial]


def test_cyton_session_through_the_real_driver():
    from emulators.cyton import UV_PER_COUNT, CytonEmulator, test_pattern_uv

    emu = CytonEmulator()
    try:
        src = BrainFlowSource(SessionClock(), board="CYTON_BOARD", serial_port=emu.port_name)
        assert src.sampling_rate_hz == 250.0 and src.n_channels == 8
        src.start()
        chunks = []
        try:
            deadline = time.monotonic() + 5.0
            while sum(c.n_samples for c in chunks) < 150 and time.monotonic() < deadline:
                time.sleep(0.05)
                c = src.read()
                if c is not None:
                    chunks.append(c)
        finally:
            src.stop()
        deadline = time.monotonic() + 2.0
        while b"s" not in emu.received and time.monotonic() < deadline:
            time.sleep(0.01)  # the peer reads the driver's last byte on its own thread
        assert emu.received.startswith(b"v") and b"b" in emu.received and b"s" in emu.received
        assert not emu.streaming
    finally:
        emu.stop()
    x_uv = np.concatenate([c.data for c in chunks], axis=1) * 1e6
    assert x_uv.shape[0] == 8 and x_uv.shape[1] >= 150
    k0 = int(round(x_uv[0, 0]))  # channel 1 carries the sample index
    k = k0 + np.arange(x_uv.shape[1])
    expected = test_pattern_uv()[:, k % 1000]
    np.testing.assert_allclose(x_uv, expected, atol=UV_PER_COUNT)  # 24-bit quantisation
    t = np.concatenate([c.t_s for c in chunks])
    assert np.all(np.diff(t) >= 0)


def test_emulator_validates_its_signal():
    from emulators.cyton import CytonEmulator, encode_packet

    with pytest.raises(ConfigError, match="data_uv"):
        CytonEmulator(np.zeros((4, 10)))
    packet = encode_packet(257, np.array([-1, 0, 1, 2, 3, 4, 5, 8388607]))
    assert len(packet) == 33 and packet[0] == 0xA0 and packet[1] == 1 and packet[-1] == 0xC0
    assert packet[2:5] == b"\xff\xff\xff" and packet[23:26] == b"\x7f\xff\xff"
