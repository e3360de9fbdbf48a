"""What a block may use of the session: the clock, the plan, texts, recording, stimulation.

The runner builds one :class:`SessionContext` and hands it to every block. A block never sees
the runner, the devices or whether the patient is simulated: it shows things (through what
its ``frame`` returns), plans movements, asks for stimulation with an onset, records markers,
and leaves its results. People watching the screen — a simulated patient among them — are
:class:`SessionObserver` s: they see each block start with its cues and act on the session
clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from mirrorvr.session.plan import MovementPlan, PlannedMovement
from mirrorvr.session.stim_gate import StimulationGate
from mirrorvr.session.texts import PatientTexts

if TYPE_CHECKING:  # pragma: no cover
    from mirrorvr.session.blocks.base import Block


class SessionObserver(Protocol):
    """Someone who watches the screen and acts on it (a patient; the simulated one in demos
    and tests). ``on_block`` is called when a block starts, with its cues; ``step`` on the
    control thread every few milliseconds."""

    def on_block(self, block: Block, start_s: float) -> None: ...

    def step(self, now_s: float) -> None: ...


@runtime_checkable
class KnowsTrueOnsets(Protocol):
    """An observer that knows when the patient really began each movement (the simulated
    one): ``(s, movement, kind)`` with kind ``"emg"`` (an attempt of the residual limb) or
    ``"intact_limb"`` (a movement of the intact limb), in time order."""

    def true_onsets(self) -> list[tuple[float, str, str]]: ...


@dataclass
class SessionContext:
    """The session as the blocks see it.

    Attributes
    ----------
    clock : Clock
    plan : MovementPlan
        What the affected-side limb shows, on presentation timestamps.
    texts : PatientTexts
        The patient's sides and limb, and every instruction in their words.
    presentation_delay_s : float
        D: reactive onsets are shown this long after detection, s.
    gate : StimulationGate
        SAFETY.md 14: whether decoded EMG may trigger stimulation now.
    emg_rate_hz : float
    emg_channels : tuple of str
        The EMG source's rate and channel names.
    marker, record_intents, stimulate, background, press : callables
        Record a marker ``(text, t_s=None)``; record decoder decisions; schedule the
        stimulation of a plan entry; run work off the render thread while frames go on;
        queue a key press as if from the window (a simulated patient answering).
    session_dir : Path
        The session's folder (a trained decoder is saved there).
    record_rating, open_stream, push : callables
        Record an answered NRS rating ``(name, value, t_s)`` in the ``ratings`` stream; open
        a block's own stream in the recording ``(name, type, channels, rate_hz, fmt) ->
        handle``; push samples to it.
    record_outcome : callable
        Record an answered instrument ``(InstrumentResult, timepoint)``: into the recording's
        ``outcomes`` stream and the session's journals (the catalogue).
    screen_size_px : (int, int)
        The window's width and height, px (clicks come in window pixels).
    view : str
        The renderer's view ("mono", "stereo_sbs", "mirror_box"): where patient screens are.
    intact_limb : object or None
        The intact-limb pose source mirror blocks reflect.
    """

    clock: object
    plan: MovementPlan
    texts: PatientTexts
    presentation_delay_s: float
    gate: StimulationGate
    emg_rate_hz: float
    emg_channels: tuple[str, ...]
    marker: Callable[..., None]
    record_intents: Callable[[list], None]
    stimulate: Callable[[PlannedMovement], None]
    background: Callable[[Callable[[], None]], None]
    session_dir: object = None
    #: the decoder's settings (windows, features, classifier); a calibration block sets
    #: the classes
    emg_settings: object = None
    #: blank EMS pulses from the decoder's EMG (stim.blank_emg)
    blank_emg: bool = True
    #: sure windows in a row that make a decoded onset where the block stimulates
    #: (stim.onset_windows; elsewhere the decoder's emg.onset_windows)
    stimulated_onset_windows: int = 2
    record_rating: Callable[[str, float, float], None] = None
    record_outcome: Callable[[object, str], None] = None
    screen_size_px: tuple[int, int] = (1280, 720)
    view: str = "mono"
    #: stop every running train and cancel pending ones, with a reason (tracking lost, ...)
    stop_stimulation: Callable[[str], None] = None
    open_stream: Callable[..., object] = None
    push: Callable[[object, list, list], None] = None
    intact_limb: object | None = None
    #: the decoder trained by the last calibration block, and its report (set them with
    #: ``use_decoder``, which tells the stimulation path to blank pulses from it)
    decoder: object | None = None
    calibration_report: object | None = None
    use_decoder: Callable[[object, object], None] = None
    #: every block's results, by block name (the summary lists them)
    results: dict[str, dict] = field(default_factory=dict)
    #: EMS pulses sent before a decoder was trained: (first, last) s to blank from the
    #: calibration EMG (stimulation during calibration)
    pulses_before_decoder: list[tuple[float, float]] = field(default_factory=list)
    _keys: list[str] = field(default_factory=list)
    _keys_lock: threading.Lock = field(default_factory=threading.Lock)
    _shared_streams: dict[str, object] = field(default_factory=dict)

    @property
    def affected(self) -> str:
        return self.texts.affected

    @property
    def intact(self) -> str:
        return self.texts.intact

    @property
    def limb(self) -> str:
        return self.texts.limb

    def shared_stream(self, name: str, kind: str, channels, rate_hz: float, fmt: str):
        """The recording's stream ``name``, opened by the first block that asks for it and
        shared by the later ones (e.g. every mirror block's ``tracking`` rows). Render
        thread (``enter``)."""
        if name not in self._shared_streams:
            self._shared_streams[name] = self.open_stream(name, kind, channels, rate_hz, fmt)
        return self._shared_streams[name]

    def press(self, key: str) -> None:
        """A key press, delivered with the window's next events (thread-safe)."""
        with self._keys_lock:
            self._keys.append(key)

    def pressed(self) -> list[str]:
        """The queued key presses, oldest first (the render thread takes them)."""
        with self._keys_lock:
            keys, self._keys = self._keys, []
        return keys
