"""The webcam source: starts the tracker process and reads its LSL pose stream ("webcam").

The process (:mod:`mirrorvr.tracking.webcam_process`) runs MediaPipe in its own environment
(``./dev tracker-env`` makes ``.venv-tracker``; ``MIRRORVR_TRACKER_PYTHON`` names another
interpreter). :meth:`WebcamSource.start` launches it and returns at once; the session never
waits on it. If it exits, :attr:`WebcamSource.problem` says so with the end of its log.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import threading
from pathlib import Path

from mirrorvr.errors import ConfigError
from mirrorvr.tracking.lsl_pose import LslPoseSource
from mirrorvr.tracking.source import PoseSample, check_source_limb

log = logging.getLogger(__name__)

#: The repository root (the tracker process imports mirrorvr from here).
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def tracker_python() -> Path:
    """The tracker environment's interpreter; :class:`ConfigError` when it is missing."""
    named = os.environ.get("MIRRORVR_TRACKER_PYTHON")
    path = Path(named) if named else PACKAGE_ROOT / ".venv-tracker" / "bin" / "python"
    if not path.exists():
        raise ConfigError(
            f"webcam tracker: its environment is missing ({path} does not exist); run "
            "'./dev tracker-env' (MediaPipe 0.10.21 with numpy < 2) or set "
            "MIRRORVR_TRACKER_PYTHON")
    return path


def _reap(process: subprocess.Popen, grace_s: float = 3.0) -> None:
    """Wait for a terminated tracker process; kill it after ``grace_s``."""
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        log.warning("webcam tracker (pid %d) ignored SIGTERM for %.0f s: killed", process.pid,
                    grace_s)
        process.kill()
        process.wait()


class WebcamSource:
    """MediaPipe on a camera or a video file, in a subprocess, read over LSL.

    Parameters
    ----------
    side, limb : str
        The intact limb in view.
    input : str
        Camera index ("0"), V4L2 device ("/dev/video0") or video file.
    stream_name : str, optional
        LSL stream name between the process and mirrorvr (default unique per source; a
        restart appends ``-<n>``).
    model_complexity : int
        MediaPipe's model: 1 full, 0 lite (faster, coarser fingers).
    process_args : sequence of str
        Further arguments of the process (e.g. ``["--pace", "none"]``).
    """

    name = "webcam"

    def __init__(self, side: str, limb: str, input: str = "0", stream_name: str = "",
                 process_args=(), model_complexity: int = 1) -> None:
        self.side, self.limb, _ = check_source_limb(side, limb)
        if not (input.isdigit() or input.startswith("/dev/") or Path(input).is_file()):
            raise ConfigError(f"webcam input: {input!r} is not a camera index, a /dev/video "
                              "device or an existing video file")
        self.input = input
        self._base_name = stream_name or f"mirrorvr-webcam-{os.getpid()}-{id(self):x}"
        self._starts = 0
        self.stream_name = self._base_name
        if model_complexity not in (0, 1):
            raise ConfigError(f"model_complexity: {model_complexity!r} must be 0 (lite) or 1 "
                              "(full)")
        self.process_args = ("--model-complexity", str(model_complexity), *process_args)
        self.inlet = LslPoseSource(side, limb, self.stream_name, name="webcam")
        self.process: subprocess.Popen | None = None
        self._log = None

    #: A video file waits this long for mirrorvr's inlet before it plays, s (a camera's
    #: frames are live and are not held back).
    FILE_WAITS_FOR_READER_S = 10.0

    def command(self) -> list[str]:
        wait = (["--wait-consumer", f"{self.FILE_WAITS_FOR_READER_S:g}"]
                if Path(self.input).is_file() else [])
        return [str(tracker_python()), "-m", "mirrorvr.tracking.webcam_process",
                "--input", self.input, "--limb", self.limb, "--side", self.side,
                "--name", self.stream_name, *wait, *self.process_args]

    @property
    def problem(self) -> str | None:
        if self.process is not None and self.process.poll() is not None:
            return f"the webcam tracker process exited (code {self.process.returncode}): " + (
                self.log_tail())
        return self.inlet.problem

    def log_tail(self, n_chars: int = 300) -> str:
        """The end of the process's log (stderr)."""
        if self._log is None:
            return ""
        self._log.flush()
        text = Path(self._log.name).read_text(encoding="utf-8", errors="replace")
        lines = [x for x in text.splitlines() if "webcam_process" in x or "Error" in x]
        return " | ".join(lines)[-n_chars:]

    def start(self) -> None:
        """Launch the process and its inlet. Each later start (the next mirror block) names
        its stream anew (``<stream_name>-<n>``): the previous process may still be ending,
        and its stream, under the old name, must not be the one the new inlet finds."""
        if self.process is not None:
            return
        self._starts += 1
        if self._starts > 1:
            self.stream_name = f"{self._base_name}-{self._starts}"
            self.inlet = LslPoseSource(self.side, self.limb, self.stream_name, name="webcam")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(PACKAGE_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            "w+", prefix="mirrorvr-webcam-", suffix=".log", delete=False)
        self.inlet.start()
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                        stdout=self._log, stderr=self._log, env=env,
                                        cwd=str(PACKAGE_ROOT))
        log.info("webcam tracker started (pid %d): %s", self.process.pid,
                 " ".join(self.command()))

    def read(self, now_s: float) -> list[PoseSample]:
        return self.inlet.read(now_s)

    def stop(self) -> None:
        """End the process (a later :meth:`start` launches a new one) and the inlet; never
        waits for the process to exit (a mirror block ends on the render thread)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            threading.Thread(target=_reap, args=(process,), name="mirrorvr-webcam-reaper",
                             daemon=True).start()
        self.inlet.stop()
        if self._log is not None:
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
            self._log = None

    def wait(self, timeout_s: float) -> int | None:
        """Wait for the process to end (a video file played to its end); its exit code."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None
