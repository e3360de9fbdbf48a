"""EMG from any BrainFlow board (the one module that imports brainflow, lazily).

REFERENCES.md (BrainFlow): data comes as ``(rows, samples)`` float64; the board is asked for
its EMG rows (falling back to its EXG rows), sampling rate and timestamp row. EXG data is in
µV, so it is scaled to volts (``volts_per_unit = 1e-6``). Timestamps are UNIX seconds and
are mapped to the session clock with ``clock.from_unix``.

Every ``BrainFlowError`` becomes an :class:`~mirrorvr.errors.AcquisitionError` that names the
board and keeps BrainFlow's exit code (``raise ... from err``).

For tests use ``board="SYNTHETIC_BOARD"`` (250 Hz, sine-plus-noise — too slow for realistic
EMG; the decoder clips its band-pass high edge to 0.45·fs).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence

import numpy as np

from mirrorvr.emg.source import EmgChunk
from mirrorvr.errors import AcquisitionError, ConfigError

logger = logging.getLogger(__name__)

#: EXG data from BrainFlow is in microvolts.
MICROVOLT = 1e-6

_HOW_TO_LIST = (
    "valid names are the members of brainflow.board_shim.BoardIds; list them with "
    "python -c \"from brainflow.board_shim import BoardIds; print([b.name for b in BoardIds])\""
)


def resolve_board_id(board: str | int) -> tuple[int, str]:
    """``(board_id, board_name)`` of a BoardIds name (``"SYNTHETIC_BOARD"``) or id (``-1``)."""
    from brainflow.board_shim import BoardIds

    if isinstance(board, bool):
        raise ConfigError(f"board: {board!r} is not a board name or id; {_HOW_TO_LIST}")
    if isinstance(board, str):
        text = board.strip()
        try:
            board = int(text)
        except ValueError:
            key = text.upper()
            if key not in BoardIds.__members__:
                raise ConfigError(
                    f"board: {text!r} is not a BrainFlow board; {_HOW_TO_LIST}"
                ) from None
            member = BoardIds[key]
            return int(member.value), member.name
    if isinstance(board, (int, np.integer)):
        try:
            member = BoardIds(int(board))
        except ValueError:
            raise ConfigError(
                f"board: id {int(board)} is not a BrainFlow board id; {_HOW_TO_LIST}"
            ) from None
        return int(member.value), member.name
    raise ConfigError(f"board: {board!r} is not a board name or id; {_HOW_TO_LIST}")


def board_rows(board_id: int, board_name: str, channels: Sequence[int] | None = None) -> list[int]:
    """Data rows of a board's EMG channels (else EXG, else EEG), optionally a subset.

    ``channels`` are indices into that row list (0-based); None: all of them.
    """
    from brainflow.board_shim import BoardShim, BrainFlowError

    try:
        descr = BoardShim.get_board_descr(board_id)
    except BrainFlowError as err:
        raise AcquisitionError(
            f"board {board_name} (id {board_id}): describe failed, "
            f"BrainFlow exit code {err.exit_code}: {err}"
        ) from err
    rows = descr.get("emg_channels") or descr.get("exg_channels") or descr.get("eeg_channels")
    if not rows:
        raise AcquisitionError(f"board {board_name}: reports neither EMG nor EXG channels")
    rows = list(rows)
    if channels is not None:
        bad = [c for c in channels if not 0 <= int(c) < len(rows)]
        if bad:
            raise ConfigError(
                f"channels: {bad!r} out of range for {board_name} "
                f"(allowed 0..{len(rows) - 1})"
            )
        rows = [rows[int(c)] for c in channels]
    return rows


class BrainFlowSource:
    """An :class:`~mirrorvr.emg.source.EmgSource` over a BrainFlow board.

    Parameters
    ----------
    clock : Clock
        Session clock with ``from_unix`` (SessionClock, FakeClock).
    board : str or int
        ``BoardIds`` name or id, e.g. ``"SYNTHETIC_BOARD"``, ``"CYTON_BOARD"``, ``-1``.
    serial_port : str
        Serial port of the dongle, if the board needs one.
    channels : sequence of int or None
        Which of the board's EMG channels to use (indices into its EMG row list); None: all.
    volts_per_unit : float
        Scale from board units to V (BrainFlow EXG is µV: 1e-6).
    buffer_s : float
        Ring-buffer length in BrainFlow, s.
    **params
        Other ``BrainFlowInputParams`` fields (``ip_address``, ``mac_address``, ``file``,
        ``master_board``, ``timeout``, ...).
    """

    def __init__(
        self,
        clock,
        board: str | int = "SYNTHETIC_BOARD",
        serial_port: str = "",
        channels: Sequence[int] | None = None,
        volts_per_unit: float = MICROVOLT,
        buffer_s: float = 60.0,
        **params,
    ) -> None:
        from brainflow.board_shim import BoardShim, BrainFlowError, BrainFlowInputParams

        self._BoardShim = BoardShim
        self._BrainFlowError = BrainFlowError
        self.clock = clock
        self.board_id, self.board_name = resolve_board_id(board)
        self.volts_per_unit = float(volts_per_unit)
        self._lock = threading.Lock()

        input_params = BrainFlowInputParams()
        input_params.serial_port = serial_port
        for key, value in params.items():
            if not hasattr(input_params, key) or key.startswith("_"):
                allowed = sorted(k for k in vars(input_params) if not k.startswith("_"))
                raise ConfigError(f"{key}: not a BrainFlowInputParams field (allowed: {allowed})")
            if key == "master_board":  # a name or id, like board
                value = resolve_board_id(value)[0]
            setattr(input_params, key, value)
        self._input_params = input_params

        # Queries of a playback/streaming board are answered by its master board.
        master = getattr(input_params, "master_board", -100)
        is_replay = self.board_id in (-3, -2)  # PLAYBACK_FILE_BOARD, STREAMING_BOARD
        descr_id = master if is_replay and master not in (-100, None) else self.board_id
        with self._translate("describe"):
            BoardShim.disable_board_logger()
            self.sampling_rate_hz = float(BoardShim.get_sampling_rate(descr_id))
            self._timestamp_row = int(BoardShim.get_timestamp_channel(descr_id))
        rows = board_rows(descr_id, self.board_name, channels)
        self._rows = np.asarray(rows, dtype=np.intp)
        self.channel_names: tuple[str, ...] = tuple(f"EMG{i + 1}" for i in range(len(rows)))
        self._buffer_samples = max(1, int(buffer_s * self.sampling_rate_hz))
        self._board = None

    @contextlib.contextmanager
    def _translate(self, action: str) -> Iterator[None]:
        """BrainFlowError -> AcquisitionError naming the board and BrainFlow's exit code."""
        try:
            yield
        except self._BrainFlowError as err:
            raise AcquisitionError(
                f"board {self.board_name} (id {self.board_id}): {action} failed, "
                f"BrainFlow exit code {err.exit_code}: {err}"
            ) from err

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)

    def start(self) -> None:
        """Open the board and start streaming (``prepare_session`` + ``start_stream``)."""
        with self._lock:
            if self._board is not None:
                return
            board = self._BoardShim(self.board_id, self._input_params)
            with self._translate("prepare_session"):
                board.prepare_session()
            try:
                with self._translate("start_stream"):
                    board.start_stream(self._buffer_samples)
            except AcquisitionError:
                self._release(board)
                raise
            self._board = board
        logger.info("BrainFlow %s streaming %d channels at %.0f Hz",
                    self.board_name, self.n_channels, self.sampling_rate_hz)

    def read(self) -> EmgChunk | None:
        """All samples since the last read, in V on the session clock; None when none."""
        with self._lock:
            if self._board is None:
                raise AcquisitionError(f"board {self.board_name}: read() before start()")
            with self._translate("get_board_data"):
                raw = self._board.get_board_data()
        if raw.shape[1] == 0:
            return None
        data = np.ascontiguousarray(raw[self._rows], dtype=np.float64) * self.volts_per_unit
        t = np.asarray(self.clock.from_unix(raw[self._timestamp_row]), dtype=np.float64)
        return EmgChunk(t_s=t, data=data)

    def _release(self, board) -> None:
        try:
            if board.is_prepared():
                board.release_session()
        except self._BrainFlowError as err:
            logger.warning("board %s: release_session failed (exit code %s): %s",
                           self.board_name, err.exit_code, err)

    def stop(self) -> None:
        """Stop streaming and release the board; safe to call twice."""
        with self._lock:
            board, self._board = self._board, None
        if board is None:
            return
        try:
            with self._translate("stop_stream"):
                board.stop_stream()
        finally:
            self._release(board)
        logger.info("BrainFlow %s released", self.board_name)
