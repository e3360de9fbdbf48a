"""The demo session's protocol: blocks, cues and their times.

A session is a sequence of blocks. Block times here are relative to the block's own start
(the runner places each block when the previous one ends, so a rating that waits for a
patient shifts what follows).
"""

from __future__ import annotations

from dataclasses import dataclass

from mirrorvr.config import EmgSettings, ProtocolSettings
from mirrorvr.errors import ConfigError
from mirrorvr.movements import REST

#: How long a scripted rating screen stays up, s (a patient answering on screen takes longer).
RATING_SCREEN_S = 2.0
#: Cue text shown to the patient per movement class.
CUE_TEXT = {
    "rest": "Relax your hand",
    "hand_open": "Open your hand",
    "hand_close": "Close your hand",
    "wrist_flexion": "Bend your wrist down",
    "wrist_extension": "Bend your wrist up",
    "pronation": "Turn your palm down",
    "supination": "Turn your palm up",
}


@dataclass(frozen=True)
class Cue:
    """Attempt ``movement`` from ``start_s`` to ``end_s`` (s from block start), then rest."""

    movement: str
    start_s: float
    end_s: float
    repetition: int

    @property
    def text(self) -> str:
        return CUE_TEXT.get(self.movement, self.movement.replace("_", " "))


@dataclass(frozen=True)
class Block:
    """One block of the session.

    ``kind`` is one of "rating", "calibration", "phantom", "mirror". ``duration_s`` is the
    block's planned length; ``name`` labels it in the recording ("rating_pre", ...).
    """

    name: str
    kind: str
    duration_s: float
    cues: tuple[Cue, ...] = ()


def _cycle_cues(movements: tuple[str, ...], block_s: float, cue_s: float, attempt_fraction: float):
    active = [m for m in movements if m != REST]
    n = max(1, int(block_s // cue_s))
    length = block_s / n
    return tuple(
        Cue(
            active[i % len(active)],
            i * length,
            i * length + attempt_fraction * length,
            i // len(active),
        )
        for i in range(n)
    )


def build_demo_protocol(protocol: ProtocolSettings, emg: EmgSettings) -> list[Block]:
    """Rating, calibration, phantom (PME), mirror, rating — scaled to ``protocol.duration_s``.

    Raises
    ------
    ConfigError
        When the duration leaves calibration contractions too short to hold two decoder
        windows after trimming (the message says the shortest duration that works).
    """
    rating_s = min(RATING_SCREEN_S, 0.05 * protocol.duration_s)
    blocks_s = protocol.duration_s - 2 * rating_s
    calib_s = protocol.calibration_fraction * blocks_s
    n_cues = len(emg.movements) * protocol.calibration_repetitions
    cue_s = calib_s / n_cues
    contraction_s = protocol.contraction_fraction * cue_s
    kept_s = protocol.keep_fraction * contraction_s
    needed_s = 2 * emg.window_s
    if kept_s < needed_s:
        scale = needed_s / kept_s
        raise ConfigError(
            f"duration_s: {protocol.duration_s:g} s is too short for calibration: each of the "
            f"{n_cues} cued contractions would keep {kept_s * 1000:.0f} ms of EMG, and the "
            f"decoder needs at least {needed_s * 1000:.0f} ms (two {emg.window_s * 1000:.0f} ms "
            f"windows); use duration_s >= {protocol.duration_s * scale:.0f}"
        )
    calib_cues = tuple(
        Cue(
            movement,
            (rep * len(emg.movements) + i) * cue_s,
            (rep * len(emg.movements) + i) * cue_s + contraction_s,
            rep,
        )
        for rep in range(protocol.calibration_repetitions)
        for i, movement in enumerate(emg.movements)
    )
    phantom_s = protocol.phantom_fraction * blocks_s
    mirror_s = protocol.mirror_fraction * blocks_s
    return [
        Block("rating_pre", "rating", rating_s),
        Block("calibration", "calibration", calib_s, calib_cues),
        Block("phantom", "phantom", phantom_s, _cycle_cues(emg.movements, phantom_s, 4.0, 0.55)),
        Block("mirror", "mirror", mirror_s, _cycle_cues(emg.movements, mirror_s, 3.5, 0.5)),
        Block("rating_post", "rating", rating_s),
    ]
