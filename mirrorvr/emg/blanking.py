"""Blanking of stimulation artefacts in the EMG, before filtering.

An EMS pulse puts a volt-scale transient on every EMG electrode near it; band-pass filters
spread it over tens of ms and features read it as a strong contraction. The stimulation side
knows when each pulse (or train) is delivered, so the session tells the blanker
``blank(t_start_s, t_end_s)`` (session clock) — ideally before those samples arrive — and the
blanker replaces every raw sample with ``t_start_s - pre_s <= t <= t_end_s + post_s``, before
the decoder's causal filter sees it, by:

``mode="fill"`` (default) a copy of the samples just before the gap (as many as the gap is
long; a gap split across two chunks is filled per chunk), so amplitude, zero crossings and
slope changes keep their statistics — zeros or a held value would read as flat runs to
ZC/SSC and mislead the classifier;
``mode="zero"`` 0 V; ``mode="hold"`` the last good sample of its channel.

Intervals are kept until the stream has passed them; an interval that arrives after its
samples were processed cannot be applied and is logged (``late_intervals`` counts them).
:func:`blank_chunks` applies the same rule to a recording after the fact (e.g. the
calibration EMG a decoder is trained on), when every interval is known beforehand.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Sequence

import numpy as np

from mirrorvr.emg.source import EmgChunk, chunk_arrays
from mirrorvr.errors import ConfigError

logger = logging.getLogger(__name__)

_HISTORY = 512  # samples of past output kept for "fill" (a longer gap is padded with zeros)


class ArtefactBlanker:
    """Replaces samples inside registered stimulation intervals.

    Parameters
    ----------
    n_channels : int
    pre_s, post_s : float
        Margins added before and after every interval, s (default 1 ms / 5 ms: the pulse
        edge plus the amplifier's recovery).
    mode : {"fill", "zero", "hold"}
    """

    def __init__(self, n_channels: int, pre_s: float = 0.001, post_s: float = 0.005,
                 mode: str = "fill") -> None:
        if int(n_channels) != n_channels or n_channels < 1:
            raise ConfigError(f"n_channels: {n_channels!r} must be a positive integer")
        if not (pre_s >= 0 and post_s >= 0):
            raise ConfigError(f"pre_s, post_s: {pre_s!r}, {post_s!r} must be >= 0 s")
        if mode not in ("fill", "zero", "hold"):
            raise ConfigError(
                f"mode: {mode!r} is not known (allowed: ['fill', 'zero', 'hold'])"
            )
        self.n_channels = int(n_channels)
        self.pre_s, self.post_s, self.mode = float(pre_s), float(post_s), mode
        self._lock = threading.Lock()
        self._intervals: list[tuple[float, float]] = []
        self._last_good = np.zeros(self.n_channels)
        self._history = np.zeros((self.n_channels, 0))  # recent output, for "fill"
        self._done_until_s = -math.inf
        self.late_intervals = 0
        self.blanked_samples = 0

    def reset(self) -> None:
        """Forget the stream position and history; registered intervals stay."""
        with self._lock:
            self._last_good = np.zeros(self.n_channels)
            self._history = np.zeros((self.n_channels, 0))
            self._done_until_s = -math.inf

    def blank(self, t_start_s: float, t_end_s: float) -> None:
        """Blank ``[t_start_s - pre_s, t_end_s + post_s]`` (session time, s). Thread-safe."""
        if not (math.isfinite(t_start_s) and math.isfinite(t_end_s) and t_end_s >= t_start_s):
            raise ConfigError(
                f"t_start_s, t_end_s: {t_start_s!r}, {t_end_s!r} must be finite with end >= start"
            )
        lo, hi = t_start_s - self.pre_s, t_end_s + self.post_s
        with self._lock:
            if hi <= self._done_until_s:
                self.late_intervals += 1
                logger.warning("stimulation interval %.4f-%.4f s arrived after its EMG was "
                               "decoded; not blanked", t_start_s, t_end_s)
                return
            self._intervals.append((lo, hi))

    def process(self, t_s: np.ndarray, data: np.ndarray) -> np.ndarray:
        """Blanked copy of ``data (n_channels, n)`` V with sample times ``t_s (n,)`` s."""
        t, x = chunk_arrays(t_s, data, self.n_channels)
        if t.size == 0:
            return x.copy()
        t_first, t_last = float(t[0]), float(t[-1])
        with self._lock:
            self._done_until_s = max(self._done_until_s, t_last)
            intervals = [iv for iv in self._intervals if iv[1] >= t_first and iv[0] <= t_last]
            if self._intervals:
                self._intervals = [iv for iv in self._intervals if iv[1] > t_last]
        out = x.copy()
        mask = np.zeros(t.size, dtype=bool) if intervals else None
        for lo, hi in intervals:
            mask |= (t >= lo) & (t <= hi)
        if mask is None or not mask.any():  # the usual chunk: nothing to blank
            self._last_good = x[:, -1].copy()
            self._remember(out)
            return out
        self.blanked_samples += int(mask.sum())
        if self.mode == "zero":
            out[:, mask] = 0.0
        elif self.mode == "fill":
            self._fill(out, mask)
        else:
            # index of the last unmasked sample at or before each position (-1: none)
            idx = np.where(~mask, np.arange(t.size), -1)
            np.maximum.accumulate(idx, out=idx)
            held = np.where(idx[None, :] >= 0, x[:, np.maximum(idx, 0)],
                            self._last_good[:, None])
            out[:, mask] = held[:, mask]
        good = np.flatnonzero(~mask)
        if good.size:
            self._last_good = x[:, good[-1]].copy()
        self._remember(out)
        return out

    def _remember(self, out: np.ndarray) -> None:
        """Keep the recent output that "fill" copies from (only that mode needs it)."""
        if self.mode == "fill":
            self._history = np.concatenate([self._history, out], axis=1)[:, -_HISTORY:]

    def _fill(self, out: np.ndarray, mask: np.ndarray) -> None:
        """Replace each masked run by the as-long stretch of output just before it."""
        edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            n = b - a
            before = np.concatenate([self._history, out[:, :a]], axis=1)
            src = before[:, -n:] if before.shape[1] else np.zeros((out.shape[0], 0))
            if src.shape[1] < n:  # not enough past yet: pad with zeros
                src = np.concatenate([np.zeros((out.shape[0], n - src.shape[1])), src], axis=1)
            out[:, a:b] = src


def blank_chunks(chunks: Sequence[EmgChunk], intervals: Iterable[tuple[float, float]],
                 **blanker_kwargs) -> tuple[list[EmgChunk], int]:
    """Blank stimulation intervals from recorded chunks, after the fact.

    The chunks go through one :class:`ArtefactBlanker` in order, as they would live, with
    every interval registered first (so none is late): the same samples are replaced, by
    the same rule, as in the live decoder.

    Parameters
    ----------
    chunks : sequence of EmgChunk
        Consecutive chunks of one source: ``t_s (n,)`` s, ``data (n_channels, n)`` V.
    intervals : iterable of (t_start_s, t_end_s)
        Stimulation pulses or trains, session time, s (margins are added as live).
    **blanker_kwargs
        ``pre_s``, ``post_s``, ``mode`` of :class:`ArtefactBlanker` (default: its defaults,
        which the decoder uses).

    Returns
    -------
    chunks : list of EmgChunk
        The blanked copies (same times).
    blanked_samples : int
        Sample times replaced (each on every channel).
    """
    chunks = [c for c in chunks if c is not None and c.n_samples]
    if not chunks:
        return [], 0
    blanker = ArtefactBlanker(chunks[0].data.shape[0], **blanker_kwargs)
    for t_start_s, t_end_s in intervals:
        blanker.blank(t_start_s, t_end_s)
    out = [EmgChunk(c.t_s, blanker.process(c.t_s, c.data)) for c in chunks]
    return out, blanker.blanked_samples
