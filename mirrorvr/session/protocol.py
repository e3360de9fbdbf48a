"""The demo session's protocol: blocks, cues and their times.

A session is a sequence of blocks. Block times here are relative to the block's own start
(the runner places each block when the previous one ends, so a rating that waits for a
patient shifts what follows).
"""

from __future__ import annotations

import math
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
    #: a ramp: rest -> the calibration level, rising linearly to the middle, then back
    ramp: bool = False

    def ramp_fraction(self, t_s: float) -> float:
        """Share of the calibration level asked for at ``t_s`` (s from block start): 1 for a
        held contraction; for a ramp 0 at its ends and 1 at its middle."""
        if not self.ramp:
            return 1.0
        half = (self.end_s - self.start_s) / 2
        return max(0.0, 1.0 - abs(t_s - self.start_s - half) / half)

    @property
    def text(self) -> str:
        return CUE_TEXT.get(self.movement, self.movement.replace("_", " "))


@dataclass(frozen=True)
class Block:
    """One block of the session.

    ``kind`` is one of "rating", "calibration", "phantom", "mirror", "motion_test",
    "tac_test".
    ``duration_s`` is the block's planned length; ``name`` labels it in the recording
    ("rating_pre", ...).
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
    active = [m for m in emg.movements if m != REST]
    ramp_cue_s = 2 * protocol.ramp_s
    ramps_s = len(active) * ramp_cue_s if protocol.calibration_ramps else 0.0
    n_cues = len(emg.movements) * protocol.calibration_repetitions
    cue_s = max(0.0, calib_s - ramps_s) / n_cues
    contraction_s = protocol.contraction_fraction * cue_s
    kept_s = protocol.keep_fraction * contraction_s
    needed_s = 2 * emg.window_s
    if kept_s < needed_s:
        # the shortest duration: calibration = ramps + contractions that keep needed_s each
        calib_needed = ramps_s + needed_s * n_cues / (
            protocol.keep_fraction * protocol.contraction_fraction)
        blocks_needed = calib_needed / protocol.calibration_fraction
        shortest = blocks_needed + 2 * RATING_SCREEN_S
        if 0.05 * shortest < RATING_SCREEN_S:
            shortest = blocks_needed / 0.9
        ramps = (f" after {len(active)} ramps of {ramp_cue_s:g} s (calibration_ramps)"
                 if ramps_s else "")
        raise ConfigError(
            f"duration_s: {protocol.duration_s:g} s is too short for calibration: each of the "
            f"{n_cues} cued contractions would keep {kept_s * 1000:.0f} ms of EMG{ramps}, and "
            f"the decoder needs at least {needed_s * 1000:.0f} ms (two "
            f"{emg.window_s * 1000:.0f} ms windows); use duration_s >= {math.ceil(shortest)}"
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
    if ramps_s:
        held_s = n_cues * cue_s
        calib_cues += tuple(
            Cue(movement, held_s + k * ramp_cue_s, held_s + (k + 1) * ramp_cue_s, 0, ramp=True)
            for k, movement in enumerate(active)
        )
    phantom_s = protocol.phantom_fraction * blocks_s
    mirror_s = protocol.mirror_fraction * blocks_s
    blocks = [
        Block("rating_pre", "rating", rating_s),
        Block("calibration", "calibration", calib_s, calib_cues),
        Block("phantom", "phantom", phantom_s, _cycle_cues(emg.movements, phantom_s, 4.0, 0.55)),
        Block("mirror", "mirror", mirror_s, _cycle_cues(emg.movements, mirror_s, 3.5, 0.5)),
        Block("rating_post", "rating", rating_s),
    ]
    if protocol.motion_test:
        blocks.append(motion_test_block(protocol, emg))
    if protocol.tac_test:
        blocks.append(tac_test_block(protocol, emg))
    return blocks


def _trial_block(kind: str, emg: EmgSettings, repetitions: int, rest_s: float,
                 timeout_s: float) -> Block:
    """A real-time test block: per repetition every movement once, each cue after ``rest_s``
    of rest and lasting the trial's time-out ``timeout_s``, then a last rest."""
    active = [m for m in emg.movements if m != REST]
    trial_s = rest_s + timeout_s
    cues = tuple(
        Cue(m, k * trial_s + rest_s, (k + 1) * trial_s, rep)
        for k, (rep, m) in enumerate((rep, m) for rep in range(repetitions) for m in active)
    )
    return Block(kind, kind, len(cues) * trial_s + rest_s, cues)


def motion_test_block(protocol: ProtocolSettings, emg: EmgSettings) -> Block:
    """The Motion Test (REFERENCES.md): per repetition every movement once, each cue after
    ``motion_test_rest_s`` of rest and lasting the trial's time-out."""
    return _trial_block("motion_test", emg, protocol.motion_test_repetitions,
                        protocol.motion_test_rest_s, protocol.motion_test_timeout_s)


def tac_test_block(protocol: ProtocolSettings, emg: EmgSettings) -> Block:
    """The TAC test (REFERENCES.md): per repetition every movement once, each cue after
    ``tac_test_rest_s`` of rest and lasting the trial's time-out (``tac_test_timeout_s``);
    a trial that completes earlier holds its posture until its cue ends."""
    return _trial_block("tac_test", emg, protocol.tac_test_repetitions,
                        protocol.tac_test_rest_s, protocol.tac_test_timeout_s)
