"""One owner per stimulator (SAFETY.md item 13): an OS-level lock per device.

A session or titration takes the lock of its device *before* it opens the port, and holds it
until the driver is closed. The lock is ``flock`` on a lock file named after the device (the
resolved device path, so ``/dev/serial/by-id/...`` and ``/dev/ttyUSB0`` are one device) in
:func:`lock_dir`; the file holds the owner's pid, command line, start time and purpose, so a
second session or titration is refused naming the owner. The kernel drops the lock when the
owner's process ends, however it ends, so a stale lock of a dead owner is simply taken over
(its old record is logged). The serial drivers also open their port with pyserial's
``exclusive=True`` (a ``flock`` on the device node), which keeps out other programs that ask
for exclusive access; Windows opens serial ports exclusively by itself.

The lock lives in ``$MIRRORVR_LOCK_DIR`` or, by default, ``<tmp>/mirrorvr-locks``, shared by
every user of the machine. ``loop://`` (pyserial's in-process loopback) is no device and is
not locked.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
import sys
import tempfile
from pathlib import Path

from mirrorvr.errors import StimulationError

logger = logging.getLogger(__name__)

LOCK_DIR_ENV = "MIRRORVR_LOCK_DIR"
#: pyserial URLs that are no shared device.
_IN_PROCESS = ("loop://",)


def lock_dir() -> Path:
    """Where device locks live: ``$MIRRORVR_LOCK_DIR`` or ``<tmp>/mirrorvr-locks``."""
    return Path(os.environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / "mirrorvr-locks")


def device_key(port: str) -> str | None:
    """The device ``port`` names: the resolved path of a device file, the URL of a network
    port (``socket://``, ``rfc2217://``; ``spy://`` is the port it wraps), None for an
    in-process loopback."""
    if port.startswith(_IN_PROCESS):
        return None
    if port.startswith("spy://"):
        return device_key(port.removeprefix("spy://").split("?")[0])
    if "://" in port:
        return port.split("?")[0]
    return os.path.realpath(port)


def is_device_file(port: str) -> bool:
    """True when ``port`` is a path (not a pyserial URL): one that can be ``flock``-ed."""
    return "://" not in port


def lock_port_exclusively(port) -> None:
    """``flock`` an open pyserial port's device node, as ``exclusive=True`` does at open (for
    a port a library opened itself); nothing on a platform without ``flock``.

    Raises
    ------
    StimulationError
        If another program holds the port exclusively.
    """
    try:
        import fcntl
    except ImportError:  # Windows: serial ports are exclusive by themselves
        return
    try:
        fcntl.flock(port.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        raise StimulationError(f"could not lock port {port.name} exclusively: another "
                               f"program holds it ({err.strerror})") from err


class DeviceLock:
    """An exclusive claim on one stimulator; :meth:`acquire` it, :meth:`release` it.

    Attributes
    ----------
    device : str
        The device (:func:`device_key`).
    path : Path
        The lock file.
    """

    def __init__(self, device: str, path: Path, fd: int) -> None:
        self.device = device
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, port: str, purpose: str = "") -> DeviceLock | None:
        """Take ``port``'s device for this process, or refuse naming who holds it.

        Returns None for a port that is no shared device (``loop://``) or on a platform
        without ``flock`` (Windows, whose serial ports are exclusive by themselves).

        Raises
        ------
        StimulationError
            If another session or titration holds the device (its pid, command line, start
            time and purpose are in the message), or the lock file cannot be opened.
        """
        device = device_key(port)
        if device is None:
            return None
        try:
            import fcntl
        except ImportError:  # Windows
            logger.debug("no flock on this platform; %s is opened exclusively by the OS", port)
            return None
        directory = lock_dir()
        path = directory / (re.sub(r"[^A-Za-z0-9_.-]+", "_", device).strip("_") + ".lock")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            raise StimulationError(
                f"cannot lock stimulator {device}: lock file {path} ({err.strerror}); another "
                f"user may hold it, or set {LOCK_DIR_ENV} to a writable folder"
            ) from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _describe(_read_record(fd))
            os.close(fd)
            raise StimulationError(
                f"stimulator {device} is in use by {owner}; SAFETY.md item 13 allows one "
                f"owner per stimulator: end that session or titration first (lock {path})"
            ) from None
        stale = _read_record(fd)
        if stale:
            logger.warning("stimulator %s: taking over the lock of %s, which ended without "
                           "releasing it", device, _describe(stale))
        record = {
            "pid": os.getpid(),
            "command": " ".join(sys.argv) or sys.executable,
            "started": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "purpose": purpose,
            "device": device,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode("utf-8"), 0)
        logger.info("stimulator %s locked for %s", device, purpose or "this process")
        return cls(device, path, fd)

    @property
    def held(self) -> bool:
        """True until :meth:`release`."""
        return self._fd is not None

    def release(self) -> None:
        """Give the device up (idempotent): the record is cleared, then the lock dropped."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # drops the flock
        logger.info("stimulator %s released", self.device)


def _read_record(fd: int) -> dict:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", errors="replace").strip()
        return json.loads(text) if text else {}
    except (OSError, ValueError):
        return {}


def _describe(record: dict) -> str:
    if not record:
        return "another process (no owner record yet)"
    text = f"pid {record.get('pid')} ({record.get('command', '?')}), since " \
           f"{record.get('started', '?')}"
    if record.get("purpose"):
        text += f", for {record['purpose']}"
    return text
