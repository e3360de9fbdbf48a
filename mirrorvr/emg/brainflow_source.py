"""EMG from any BrainFlow board (the one module that imports brainflow, lazily).

REFERENCES.md (BrainFlow): data comes as ``(rows, samples)`` float64; the board is asked for
its EMG rows (falling back to its EXG rows), sampling rate and timestamp row. EXG data is in
µV, so it is scaled to volts (``volts_per_unit = 1e-6``). Timestamps are UNIX seconds and
are mapped to the session clock with ``clock.from_unix``.

Every ``BrainFlowError`` becomes an :class:`~mirrorvr.errors.AcquisitionError` that names the
board and keeps BrainFlow's exit code (``raise ... from err``).

For tests use ``board="SYNTHETIC_BOARD"`` (250 Hz, sine-plus-noise — too slow for realistic
EMG; the decoder clips its band-pass high edge to 0.45·fs).

Markers: :meth:`BrainFlowSource.insert_marker` puts a number into the board's marker row at
a cue (``BoardShim.insert_marker``); markers seen in the stream are kept in
``received_markers`` (a playback board returns them as zero, REFERENCES.md).

A lost board does not end the session: when ``get_board_data`` fails, or no sample arrives
for ``stall_timeout_s``, the board is released and re-opened from later ``read`` calls
(``read`` never blocks or sleeps), at most ``reconnect_attempts`` times with a doubling
back-off from ``reconnect_backoff_s`` (capped at ``max_backoff_s``). When samples flow again
the gap is recorded as an :class:`AcquisitionGap` (start, end, samples missing, attempts) in
``gaps`` and reported to the event listener; when the attempts are used up ``read`` raises
:class:`~mirrorvr.errors.AcquisitionError`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass

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


@dataclass(frozen=True)
class AcquisitionGap:
    """Samples lost while a board was away.

    Attributes
    ----------
    start_s : float
        Session time of the last sample before the loss, s.
    end_s : float
        Session time of the first sample after reconnection, s.
    missing_samples : int
        Samples that should have been between them at the nominal rate.
    attempts : int
        Reconnection attempts it took.
    reason : str
        What was noticed (BrainFlow's error, or a stall).
    """

    start_s: float
    end_s: float
    missing_samples: int
    attempts: int
    reason: str

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict:
        d = asdict(self)
        d["duration_s"] = self.duration_s
        return d


class BrainFlowSource:
    """An :class:`~mirrorvr.emg.source.EmgSource` over a BrainFlow board.

    Parameters
    ----------
    clock : Clock
        Session clock with ``from_unix`` (SessionClock).
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
    reconnect_attempts : int
        Re-opening attempts after a loss before ``read`` gives up (0: fail at once).
    reconnect_backoff_s, max_backoff_s : float
        First wait before re-opening, s; each further wait doubles, up to ``max_backoff_s``.
    stall_timeout_s : float or None
        No sample for this long while streaming counts as a loss, s (None: never).
    board_factory : callable or None
        ``(board_id, BrainFlowInputParams) -> BoardShim``-like; default ``BoardShim`` (tests
        wrap it to inject failures).
    **params
        Other ``BrainFlowInputParams`` fields (``ip_address``, ``ip_port``, ``mac_address``,
        ``serial_number``, ``file``, ``master_board`` (name or id), ``timeout``,
        ``other_info``, ...).
    """

    def __init__(
        self,
        clock,
        board: str | int = "SYNTHETIC_BOARD",
        serial_port: str = "",
        channels: Sequence[int] | None = None,
        volts_per_unit: float = MICROVOLT,
        buffer_s: float = 60.0,
        *,
        reconnect_attempts: int = 5,
        reconnect_backoff_s: float = 0.5,
        max_backoff_s: float = 5.0,
        stall_timeout_s: float | None = 3.0,
        board_factory: Callable | None = None,
        **params,
    ) -> None:
        from brainflow.board_shim import BoardShim, BrainFlowError, BrainFlowInputParams

        if int(reconnect_attempts) != reconnect_attempts or reconnect_attempts < 0:
            raise ConfigError(
                f"reconnect_attempts: {reconnect_attempts!r} must be an integer >= 0")
        for name, value in (("reconnect_backoff_s", reconnect_backoff_s),
                            ("max_backoff_s", max_backoff_s)):
            if not (np.isfinite(value) and value >= 0):
                raise ConfigError(f"{name}: {value!r} must be a finite number >= 0 s")
        if stall_timeout_s is not None and not stall_timeout_s > 0:
            raise ConfigError(f"stall_timeout_s: {stall_timeout_s!r} must be > 0 s or None")
        self._BoardShim = BoardShim
        self._board_factory = board_factory or BoardShim
        self._BrainFlowError = BrainFlowError
        self.clock = clock
        self.board_id, self.board_name = resolve_board_id(board)
        self.volts_per_unit = float(volts_per_unit)
        self.reconnect_attempts = int(reconnect_attempts)
        self.reconnect_backoff_s = float(reconnect_backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self.stall_timeout_s = None if stall_timeout_s is None else float(stall_timeout_s)
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
            try:
                self._marker_row: int | None = int(BoardShim.get_marker_channel(descr_id))
            except BrainFlowError:
                self._marker_row = None
        rows = board_rows(descr_id, self.board_name, channels)
        self._rows = np.asarray(rows, dtype=np.intp)
        self.channel_names: tuple[str, ...] = tuple(f"EMG{i + 1}" for i in range(len(rows)))
        self._buffer_samples = max(1, int(buffer_s * self.sampling_rate_hz))
        self._board = None
        self._listener: Callable[[float, str], None] | None = None
        #: Every gap after a loss that was bridged, in order.
        self.gaps: list[AcquisitionGap] = []
        #: Markers inserted: (session time s, value, label).
        self.markers: list[tuple[float, float, str]] = []
        #: Non-zero markers seen in the stream: (session time s of the sample, value).
        self.received_markers: list[tuple[float, float]] = []
        self._reset_link_state()

    def _reset_link_state(self) -> None:
        self._lost_reason: str | None = None  # set while the board is away
        self._lost_at_s = 0.0
        self._attempts = 0
        self._next_attempt_s = 0.0
        self._last_sample_s: float | None = None
        self._last_data_clock_s = 0.0
        self._pending_gap: tuple[str, int] | None = None

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

    @property
    def finished(self) -> bool:
        """A live board never says it has ended: a silence is a loss (``stall_timeout_s``)."""
        return False

    @property
    def connected(self) -> bool:
        """True while the board streams (False before start, after stop and while lost)."""
        with self._lock:
            return self._board is not None and self._lost_reason is None

    def set_event_listener(self, listener: Callable[[float, str], None] | None) -> None:
        """``listener(t_s, text)`` is told of losses, reconnections and gaps (e.g. the
        recorder's marker stream). Called from ``read``."""
        self._listener = listener

    def _emit(self, t_s: float, text: str) -> None:
        if self._listener is not None:
            self._listener(t_s, text)

    # ------------------------------------------------------------------ open / close

    def _open(self):
        """A prepared, streaming board; AcquisitionError (board released) on failure."""
        board = self._board_factory(self.board_id, self._input_params)
        with self._translate("prepare_session"):
            board.prepare_session()
        try:
            with self._translate("start_stream"):
                board.start_stream(self._buffer_samples)
        except AcquisitionError:
            self._release(board)
            raise
        return board

    def start(self) -> None:
        """Open the board and start streaming (``prepare_session`` + ``start_stream``)."""
        with self._lock:
            if self._board is not None:
                return
            self._board = self._open()
            self._reset_link_state()
            self._last_data_clock_s = self.clock.now()
        logger.info("BrainFlow %s streaming %d channels at %.0f Hz",
                    self.board_name, self.n_channels, self.sampling_rate_hz)

    def insert_marker(self, value: float, label: str = "") -> None:
        """Put ``value`` (a non-zero number) into the board's marker row now, e.g. at a cue.

        While the board is lost the marker is only logged in :attr:`markers`.
        """
        value = float(value)
        if not np.isfinite(value) or value == 0.0:
            raise ConfigError(f"value: {value!r} must be a finite non-zero number "
                              "(BrainFlow uses 0 for 'no marker')")
        t = self.clock.now()
        with self._lock:
            if self._board is None:
                raise AcquisitionError(f"board {self.board_name}: insert_marker() before start()")
            self.markers.append((t, value, label))
            if self._lost_reason is not None:
                logger.warning("marker %g (%s) not sent: board %s is lost", value, label,
                               self.board_name)
                return
            with self._translate("insert_marker"):
                self._board.insert_marker(value)

    # ------------------------------------------------------------------ streaming

    def read(self) -> EmgChunk | None:
        """All samples since the last read, in V on the session clock; None when none.

        Never blocks: while the board is lost it returns None and tries to re-open it when
        the back-off allows. Raises AcquisitionError when the attempts are used up.
        """
        events: list[tuple[float, str]] = []
        try:
            with self._lock:
                if self._board is None:
                    raise AcquisitionError(f"board {self.board_name}: read() before start()")
                now = self.clock.now()
                if self._lost_reason is not None and not self._try_reconnect(now, events):
                    return None
                try:
                    raw = self._board.get_board_data()
                except self._BrainFlowError as err:
                    self._lose(now, f"get_board_data failed, BrainFlow exit code "
                               f"{err.exit_code}: {err}", events)
                    return None
                if raw.shape[1] == 0:
                    if (self.stall_timeout_s is not None
                            and now - self._last_data_clock_s > self.stall_timeout_s):
                        self._lose(now, f"no sample for {now - self._last_data_clock_s:.1f} s",
                                   events)
                    return None
                data = np.ascontiguousarray(raw[self._rows], dtype=np.float64)
                data *= self.volts_per_unit
                t = np.asarray(self.clock.from_unix(raw[self._timestamp_row]), dtype=np.float64)
                self._last_data_clock_s = now
                self._note_gap(t, events)
                self._last_sample_s = float(t[-1])
                if self._marker_row is not None:
                    m = raw[self._marker_row]
                    hit = np.flatnonzero(m)
                    self.received_markers.extend(zip(t[hit].tolist(), m[hit].tolist(),
                                                     strict=True))
        finally:
            for t_s, text in events:
                self._emit(t_s, text)
        return EmgChunk(t_s=t, data=data)

    def _lose(self, now: float, reason: str, events: list) -> None:
        """Mark the board lost, release it, schedule the first re-open. Lock held."""
        self._lost_reason = reason
        self._lost_at_s = now
        self._attempts = 0
        self._next_attempt_s = now + self.reconnect_backoff_s
        logger.warning("board %s lost at %.3f s: %s", self.board_name, now, reason)
        events.append((now, f"acquisition_lost board={self.board_name} reason={reason}"))
        board, self._board = self._board, _LOST
        self._stop_quietly(board)
        if self.reconnect_attempts == 0:
            self._give_up(now, events)

    def _try_reconnect(self, now: float, events: list) -> bool:
        """One re-open attempt if due; True when the board streams again. Lock held."""
        if now < self._next_attempt_s:
            return False
        self._attempts += 1
        try:
            board = self._open()
        except AcquisitionError as err:
            logger.warning("board %s: reconnection attempt %d/%d failed: %s", self.board_name,
                           self._attempts, self.reconnect_attempts, err)
            if self._attempts >= self.reconnect_attempts:
                self._give_up(now, events, str(err))
            wait = min(self.max_backoff_s, self.reconnect_backoff_s * 2 ** self._attempts)
            self._next_attempt_s = now + wait
            return False
        self._board = board
        self._last_data_clock_s = now
        logger.info("board %s reconnected after %d attempt(s)", self.board_name, self._attempts)
        events.append((now, f"acquisition_reconnected board={self.board_name} "
                            f"attempts={self._attempts}"))
        self._pending_gap = (self._lost_reason, self._attempts)
        self._lost_reason = None
        return True

    def _note_gap(self, t: np.ndarray, events: list) -> None:
        """After a reconnection, record the gap up to the first new sample. Lock held."""
        pending = self._pending_gap
        if pending is None:
            return
        self._pending_gap = None
        reason, attempts = pending
        start = self._last_sample_s if self._last_sample_s is not None else self._lost_at_s
        end = float(t[0])
        missing = max(0, int(round((end - start) * self.sampling_rate_hz)) - 1)
        gap = AcquisitionGap(start, end, missing, attempts, reason)
        self.gaps.append(gap)
        logger.warning("board %s: gap of %.3f s (%d samples missing)", self.board_name,
                       gap.duration_s, missing)
        events.append((end, f"acquisition_gap start_s={start:.6f} end_s={end:.6f} "
                            f"missing_samples={missing} attempts={attempts}"))

    def _give_up(self, now: float, events: list, last_error: str = "") -> None:
        """No attempts left: stay stopped and raise. Lock held."""
        self._board = None
        reason = self._lost_reason
        self._lost_reason = None
        events.append((now, f"acquisition_failed board={self.board_name}"))
        raise AcquisitionError(
            f"board {self.board_name} (id {self.board_id}): lost ({reason}) and not "
            f"reconnected after {self.reconnect_attempts} attempt(s)"
            + (f"; last error: {last_error}" if last_error else "")
        )

    def _stop_quietly(self, board) -> None:
        if board is None or board is _LOST:
            return
        try:
            board.stop_stream()
        except self._BrainFlowError as err:
            logger.debug("board %s: stop_stream after loss: %s", self.board_name, err)
        self._release(board)

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
            self._lost_reason = None
        if board is None or board is _LOST:
            return
        try:
            with self._translate("stop_stream"):
                board.stop_stream()
        finally:
            self._release(board)
        logger.info("BrainFlow %s released", self.board_name)

    @classmethod
    def from_settings(cls, clock, emg) -> BrainFlowSource:
        """The source an :class:`~mirrorvr.config.EmgSettings` describes (``board``,
        ``serial_port``, ``board_params``, ``reconnect_*``)."""
        params = dict(emg.board_params)
        serial_port = params.pop("serial_port", emg.serial_port) or emg.serial_port
        if emg.serial_port and serial_port != emg.serial_port:
            raise ConfigError(
                f"emg.serial_port ({emg.serial_port!r}) and emg.board_params.serial_port "
                f"({serial_port!r}) disagree: give the port once"
            )
        return cls(
            clock, board=emg.board, serial_port=serial_port,
            reconnect_attempts=emg.reconnect_attempts,
            reconnect_backoff_s=emg.reconnect_backoff_s,
            **params,
        )


_LOST = object()  # placeholder board while lost: "started", nothing to stop
