"""One owner per stimulator (issue 9 item 4, SAFETY.md item 13): a session or titration opens
its device exclusively; a second one, in this process or another, refuses before anything
reaches the device and names the owner; a dead owner's lock is taken over.

Before the fix two sessions on one serial port both armed and both drove the board.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from mirrorvr.cli import main
from mirrorvr.clock import FakeClock
from mirrorvr.errors import StimulationError
from mirrorvr.stim.device_lock import DeviceLock, device_key, lock_dir
from mirrorvr.stim.openemsstim import OpenEMSStimDriver

from fakes import wait_for

# a device emulator on a pty answers in real time: run alone (./dev test)
pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="pty and flock need POSIX"),
              pytest.mark.serial]

#: an openEMSstim gating a unit set to 300 µs at 35 Hz, 40 mA at 100 %
OPENEMS_TOML = """\
[patient]
pseudonym = "sub-31"
amputated_side = "right"
amputation_level = "transradial"
[patient.screening]
[[patient.stim_channels]]
channel = 0
site = "forearm flexors"
electrode_area_cm2 = 20
motor_threshold_ma = 12
max_tolerated_ma = 20
[stim]
driver = "openemsstim"
serial_port = "{port}"
full_scale_ma = 40
[stim.device]
n_channels = 2
max_amplitude_ma = 40
min_pulse_width_us = 300
max_pulse_width_us = 300
min_frequency_hz = 35
max_frequency_hz = 35.000001
"""


@pytest.fixture
def board():
    from emulators.openemsstim import OpenEMSStimEmulator

    emulator = OpenEMSStimEmulator()
    yield emulator
    emulator.stop()


def openems(port, purpose=""):
    return OpenEMSStimDriver(port, FakeClock(), 40.0, 300.0, 35.0, purpose=purpose)


def test_a_second_driver_in_this_process_is_refused_naming_the_first(board):
    first = openems(board.port_name, "session of sub-31")
    try:
        n_commands = len(board.commands)
        with pytest.raises(StimulationError) as info:
            openems(board.port_name, "titration of channel 0 for sub-31")
        message = str(info.value)
        assert f"pid {os.getpid()}" in message and "for session of sub-31" in message
        assert f"stimulator {os.path.realpath(board.port_name)} is in use" in message
        assert len(board.commands) == n_commands  # nothing reached the board
        (held,) = [p for p in lock_dir().glob("*.lock") if p.read_text()]
        record = json.loads(held.read_text())
        assert record["pid"] == os.getpid() and record["purpose"] == "session of sub-31"
        assert record["started"] and record["command"]
    finally:
        first.close()
    second = openems(board.port_name, "titration")  # released by close: free again
    second.close()


def test_the_lock_is_on_the_device_not_on_the_name_given_for_it(board, tmp_path):
    alias = tmp_path / "ttyUSB-stimulator"  # e.g. a /dev/serial/by-id/... link
    alias.symlink_to(board.port_name)
    assert device_key(str(alias)) == device_key(board.port_name)
    first = openems(board.port_name)
    try:
        with pytest.raises(StimulationError, match="is in use"):
            openems(str(alias))
    finally:
        first.close()
    assert device_key("loop://") is None  # an in-process loopback is no shared device
    a, b = openems("loop://"), openems("loop://")
    a.close()
    b.close()


def test_a_rehastim2_held_by_one_driver_refuses_a_second_before_any_packet():
    pytest.importorskip("pysciencemode")
    from emulators.rehastim2 import RehaStim2Emulator
    from mirrorvr.stim.rehastim import RehaStimDriver

    device = RehaStim2Emulator()
    try:
        first = RehaStimDriver(device.port_name, FakeClock(), 35.0, purpose="session of sub-32")
        try:
            n_packets = len(device.received)
            with pytest.raises(StimulationError, match=r"in use by pid \d+ .*session of sub-32"):
                RehaStimDriver(device.port_name, FakeClock(), 35.0)
            assert len(device.received) == n_packets
        finally:
            first.close()
    finally:
        device.stop()


def test_a_program_holding_the_port_exclusively_keeps_the_driver_out(board):
    """pyserial's exclusive open (a flock on the device node) keeps out any program that asks
    for the port exclusively, not only mirrorvr."""
    import fcntl

    fd = os.open(board.port_name, os.O_RDWR | os.O_NOCTTY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(StimulationError, match="cannot open port"):
            openems(board.port_name)
    finally:
        os.close(fd)
    assert not [p for p in lock_dir().glob("*.lock") if p.read_text()]  # released again
    openems(board.port_name).close()


def test_a_dead_owners_lock_is_taken_over(board, caplog):
    script = textwrap.dedent(f"""
        import sys
        from mirrorvr.stim.device_lock import DeviceLock
        lock = DeviceLock.acquire({board.port_name!r}, "a session that crashes")
        print("held", flush=True)
        sys.stdin.read()
    """)
    with subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout.readline().strip() == "held"
            with pytest.raises(StimulationError, match=f"in use by pid {holder.pid} "):
                DeviceLock.acquire(board.port_name)
        finally:
            holder.send_signal(signal.SIGKILL)  # dies without releasing anything
            holder.wait()
    lock = DeviceLock.acquire(board.port_name, "the next session")
    try:
        assert lock.held
        assert f"taking over the lock of pid {holder.pid}" in caplog.text
        assert "a session that crashes" in caplog.text
    finally:
        lock.release()


def test_two_processes_on_one_board_the_second_titration_and_a_session_are_refused(
        board, tmp_path, capsys):
    """A titration in one process holds the board; a second titration (another process) and
    a session (this process) refuse before anything starts, naming the first."""
    cfg = tmp_path / "C.toml"
    cfg.write_text(OPENEMS_TOML.format(port=board.port_name))
    profile = tmp_path / "sub-31.toml"
    profile.write_text(cfg.read_text().split("[stim]")[0])
    titrate = [sys.executable, "-m", "mirrorvr", "stim", "titrate", "--profile", str(profile),
               "--channel", "0", "--config", str(cfg), "--start-ma", "4"]
    with subprocess.Popen(titrate, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as first:
        try:
            # the first train has run and the therapist's answer is awaited: the board is held
            assert wait_for(lambda: board.is_on(0))
            assert wait_for(lambda: not board.any_on())
            n_commands = len(board.commands)
            second = subprocess.run(titrate, input="", capture_output=True, text=True,
                                    timeout=60)
            assert second.returncode == 2
            assert f"in use by pid {first.pid} (" in second.stderr
            assert "for titration of channel 0 for sub-31" in second.stderr
            data_dir = tmp_path / "data"
            assert main(["demo", "--config", str(cfg), "--data-dir", str(data_dir),
                         "--headless"]) == 2
            assert f"in use by pid {first.pid} (" in capsys.readouterr().err
            assert not data_dir.exists()  # refused before anything started
            assert len(board.commands) == n_commands  # neither reached the board
        finally:
            out, err = first.communicate(input="q\n", timeout=60)
    assert first.returncode == 1 and "stopped: nothing saved" in out, err


class _StartsASecondSession:
    """Draws nothing; at the first frame of the phantom block (the first session armed and
    holding the board) runs ``argv`` — a second session on the same board — to its end."""

    def __init__(self, argv):
        self.clock, self.argv, self.second = None, argv, None

    def draw(self, state):
        if self.second is None and "phantom" in state.status_text.lower():
            self.second = subprocess.run(self.argv, capture_output=True, text=True,
                                         timeout=120)


def test_a_second_session_on_a_board_a_session_holds_is_refused_naming_it(board, tmp_path):
    """The issue's case: two sessions on one serial port. The first (this process, on the
    fake clock) holds the board; the second (another process) refuses before anything
    starts, naming the first, and the first session's trains are the only ones."""
    import tomli_w

    from mirrorvr.cli import run_demo
    from mirrorvr.config import build_config

    from fakes import ScriptedWindow

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    data = tomllib.loads(OPENEMS_TOML.format(port=board.port_name))
    data["stim"].update(on_time_s=1.0, ramp_up_s=0.3, ramp_down_s=0.3)
    data["patient"]["stim_channels"].append(  # every movement of the demo has a channel
        {**data["patient"]["stim_channels"][0], "channel": 1, "site": "forearm extensors"})
    data["protocol"] = {"duration_s": 30.0}
    data["render"] = {"max_fps": 30.0, "saved_frames": 0}
    cfg = tmp_path / "C.toml"
    cfg.write_text(tomli_w.dumps(data))
    second_dir = tmp_path / "second"
    renderer = _StartsASecondSession(
        [sys.executable, "-m", "mirrorvr", "demo", "--config", str(cfg), "--data-dir",
         str(second_dir), "--headless"])
    clock = FakeClock(1000.0)
    renderer.clock = clock
    summary = run_demo(build_config(data), tmp_path / "first", clock=clock, realtime=False,
                       window=ScriptedWindow(clock, {}), renderer=renderer)
    second = renderer.second
    assert second is not None, "the phantom block never started"
    assert second.returncode == 2, second.stderr
    assert f"in use by pid {os.getpid()} (" in second.stderr
    assert "SAFETY.md item 13" in second.stderr
    assert not second_dir.exists()  # refused before anything started
    assert summary["ems"]["state"] == "armed" and summary["ems"]["sent"] >= 1
