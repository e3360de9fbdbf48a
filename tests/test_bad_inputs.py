"""Bad input a careless user gives gets a clear error up front (issue 9): the field, the value
and what is allowed, before anything starts, and nothing recorded is lost.

Through the command line: ``mirrorvr demo`` refuses before its session starts, and
``mirrorvr check`` makes the same checks without running anything.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mirrorvr.cli import main
from mirrorvr.emg.decoder import Decoder
from mirrorvr.errors import DecoderError

pyxdf = pytest.importorskip("pyxdf")


def _toml(tmp_path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return path


#: (TOML text, what the error must say): each was accepted, failed late or blamed another
#: field before (issue 9's list).
BAD_CONFIGS = [
    ("seed = -1\n", ["seed = -1", "greater than or equal to 0"]),
    ('[emg]\nmovements = ["rest"]\n', ["emg.movements", "at least one movement class"]),
    ('[emg]\nfeatures = ["BOGUS"]\n', ["emg.features", "'BOGUS'", "allowed"]),
    ("[stim]\nramp_up_s = inf\n", ["stim.ramp_up_s = inf", "finite"]),
    ("[stim]\non_time_s = inf\n", ["stim.on_time_s = inf", "finite"]),
    ("[stim]\npulse_width_us = inf\n", ["stim.pulse_width_us = inf", "finite"]),
    ("[stim.device]\nmin_ramp_s = inf\n", ["stim.device.min_ramp_s = inf", "finite"]),
    ("[stim]\non_time_s = 10\n", ["stim.on_time_s", "10.0", "<= 5.0 s"]),
    ("[emg]\nsampling_rate_hz = 100\n", ["emg.sampling_rate_hz", "100 Hz", "<= 0.45 x"]),
    ("[emg]\nbandpass_hz = [20, inf]\n", ["emg.bandpass_hz", "finite"]),
    ('[stim]\nenabled = "no"\n', ["stim.enabled = 'no'", "valid boolean",
                                   "allowed: true or false"]),
    ("[stim]\nenabled = 0\n", ["stim.enabled = 0", "allowed: true or false"]),
    ('[stim]\npulse_width_us = "300"\n', ["stim.pulse_width_us = '300'", "valid number"]),
    ('[patient]\npseudonym = "sub-1"\namputated_side = "left"\n'
     'amputation_level = "transradial"\n'
     '[[patient.stim_channels]]\nchannel = 0\nsite = "a"\nelectrode_area_cm2 = 10\n'
     '[[patient.stim_channels]]\nchannel = 0\nsite = "b"\nelectrode_area_cm2 = 12\n',
     ["patient.stim_channels", "channel 0 is described 2 times"]),
    ("[emg]\nwindow_s = 0.1\nincrement_s = 0.2\n",
     ["emg.increment_s = 0.2", "must not exceed window_s (0.1)"]),
]


@pytest.mark.parametrize("command", ["check", "demo"])
@pytest.mark.parametrize("text, says", BAD_CONFIGS, ids=[c[1][0] for c in BAD_CONFIGS])
def test_a_bad_configuration_is_refused_before_the_session(tmp_path, capsys, command, text,
                                                           says):
    data = tmp_path / "data"
    code = main([command, "--config", str(_toml(tmp_path, text)), "--data-dir", str(data),
                 "--headless"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("mirrorvr: error:")
    for fragment in says:
        assert fragment in err
    assert not list(data.rglob("recording.xdf"))


def test_the_command_line_seed_is_checked(tmp_path, capsys):
    assert main(["check", "--seed", "-3", "--data-dir", str(tmp_path)]) == 2
    assert "seed = -3" in capsys.readouterr().err


def _binary(p):
    p.write_bytes(bytes(range(256)) * 4)


def _folder(p):
    p.mkdir()


def _broken_toml(p):
    p.write_text("[stim\n")


@pytest.mark.parametrize("make, says", [
    (_binary, "is not UTF-8 text"),
    (_folder, "is a folder, not a TOML file"),
    (None, "does not exist"),
    (_broken_toml, "is not valid TOML"),
])
def test_a_config_that_is_not_a_toml_file_is_named(tmp_path, capsys, make, says):
    path = tmp_path / "config.toml"
    if make is not None:
        make(path)
    assert main(["check", "--config", str(path), "--data-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and says in err


def test_a_data_dir_that_is_a_file_or_read_only_is_refused(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("keep me")
    assert main(["demo", "--data-dir", str(a_file), "--headless"]) == 2
    assert "--data-dir" in capsys.readouterr().err and a_file.read_text() == "keep me"
    read_only = Path("/sys/mirrorvr-data")  # sysfs: not writable even for root
    assert main(["check", "--data-dir", str(read_only)]) == 2
    assert "cannot be written to" in capsys.readouterr().err


def test_verbose_after_a_subcommand(tmp_path, capsys):
    assert main(["check", "-v", "--data-dir", str(tmp_path)]) == 0
    assert "configuration ok" in capsys.readouterr().out


def test_evaluate_refuses_what_a_session_refuses(tmp_path, capsys):
    folder = tmp_path / "rec"
    folder.mkdir()
    assert main(["emg", "evaluate", str(folder), "--fs", "2000", "--window-ms", "10",
                 "--increment-ms", "50"]) == 2
    assert "emg.increment_s = 0.05" in capsys.readouterr().err
    (folder / "C_rest_R_1.csv").write_bytes(bytes(range(128, 256)) * 8)
    assert main(["emg", "evaluate", str(folder), "--fs", "2000"]) == 2
    assert "C_rest_R_1.csv: not a text CSV" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not really a zip", bytes(range(256))])
def test_a_corrupt_decoder_file_raises_the_projects_decoder_error(tmp_path, content):
    path = tmp_path / "decoder.npz"
    path.write_bytes(content)
    with pytest.raises(DecoderError, match="decoder.npz: not a mirrorvr decoder model"):
        Decoder.load(path)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not really a zip"],
                         ids=["empty", "corrupt"])
def test_a_corrupt_decoder_file_in_the_configuration_is_refused_naming_it(tmp_path, capsys,
                                                                         content):
    model = tmp_path / "intact_decoder.npz"
    model.write_bytes(content)
    config = _toml(tmp_path, f'[tracker]\nsource = "intact_emg"\ndecoder_file = "{model}"\n')
    data = tmp_path / "data"
    assert main(["check", "--config", str(config), "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mirrorvr: error: tracker.decoder_file = '{model}': model file ")
    assert "not a mirrorvr decoder model" in err and "Traceback" not in err
    assert not data.exists()


# ---------------------------------------------------------------- how a session ends


@pytest.mark.gl
@pytest.mark.slow
@pytest.mark.parametrize("sig, code, reason", [
    (signal.SIGINT, 130, "interrupted (SIGINT)"),
    (signal.SIGTERM, 143, "terminated (SIGTERM)"),
])
def test_a_signal_ends_the_session_with_a_summary_and_its_reason(tmp_path, sig, code, reason):
    # before: SIGINT left no summary.json; SIGTERM was recorded as "ended by user"
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mirrorvr", "demo", "--headless", "--size", "160x90",
         "--duration", "60", "--data-dir", str(data)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list(data.rglob("recording.xdf")):  # the session runs: its handler is set
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        os.kill(proc.pid, sig)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, out
    summary = json.loads(next(data.rglob("summary.json")).read_text())
    assert summary["ended"] == reason
    assert summary["duration_s"] < 60
    assert any(line.split() == ["ended", *reason.split()] for line in out.splitlines())


@pytest.mark.gl
@pytest.mark.slow
def test_a_full_disk_ends_the_session_once_with_what_was_recorded(tmp_path):
    # before: the right outcome, but 8 tracebacks from the dose-log handler. A file-size
    # limit makes the recording's writes fail with EFBIG, as a full disk fails them (ENOSPC).
    data = tmp_path / "data"
    limit = (
        "import resource, signal, sys; from mirrorvr.cli import main; "
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (600_000, 600_000)); "
        "sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run(
        [sys.executable, "-c", limit, "demo", "--headless", "--size", "160x90",
         "--duration", "40", "--data-dir", str(data)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("recording failed") == 1, proc.stderr
    summary = json.loads(next(data.rglob("summary.json")).read_text())
    assert summary["ended"].startswith("recording failed")
    assert summary["duration_s"] < 40
    streams, _ = pyxdf.load_xdf(summary["recording"], dejitter_timestamps=False)
    emg = next(s for s in streams if s["info"]["name"][0] == "EMG")
    assert len(emg["time_stamps"]) > 2000  # what was flushed before the failure is kept
