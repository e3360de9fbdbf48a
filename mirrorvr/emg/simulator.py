"""A simulated patient: multi-channel surface EMG from the residual forearm of a right
transradial amputee, driven by an intent script.

The signal model, per channel ``c`` and sample ``k`` (all in volts)::

    emg[c, k] = env[c, k] * s[c, k]  +  noise_v * w[c, k]  +  hum[c] * sin(2π f_mains k / fs + φ_c)

- ``s`` is unit-RMS Gaussian noise band-limited to the sEMG band (20–450 Hz Butterworth,
  REFERENCES.md), filter state carried across reads;
- ``env`` follows the target amplitude ``rest_emg_v + level · gain · mvc_v · pattern[movement, c]``
  through a first-order lag whose 10–90 % rise time is ``rise_s`` (≈ 50 ms), so contraction
  onsets and offsets are smooth;
- ``pattern[movement]`` is a synergy: each movement activates a couple of neighbouring
  electrodes strongly (muscle under them), an antagonist site moderately, and every other
  channel weakly (crosstalk); ``rest`` activates nothing;
- ``gain`` varies per contraction (about ±``variability``, and ±5 % per channel);
- ``w`` is white amplifier noise and ``hum`` mains interference at ``mains_hz``.

Typical levels: ~10–20 µV RMS at rest, ~0.1–0.5 mV RMS on active channels in a strong
contraction.

The source is pull-based: :meth:`read` synthesises every sample from the previous read up
to ``clock.now()``, sample ``k`` at exactly ``t_start + k / fs``. With a
:class:`~mirrorvr.clock.FakeClock` everything is deterministic for a given seed and script,
and the output does not depend on how reads chunk the stream. No thread is needed.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence

import numpy as np
from scipy import signal

from mirrorvr.clock import Clock
from mirrorvr.emg.filters import MAX_EDGE_FRACTION
from mirrorvr.emg.source import EmgChunk
from mirrorvr.errors import AcquisitionError, ConfigError
from mirrorvr.movements import REST, UPPER_LIMB_MOVEMENTS, check_movement

logger = logging.getLogger(__name__)

_WARMUP_S = 0.25  # noise filter runs this long before sample 0, so it starts stationary


class SimulatedPatient:
    """Simulated residual-limb EMG implementing :class:`~mirrorvr.emg.source.EmgSource`.

    Parameters
    ----------
    clock : Clock
        Session clock (a FakeClock in tests).
    n_channels : int
        Electrodes around the forearm, named ``EMG1..EMGn``.
    sampling_rate_hz : float
        Sampling rate, Hz.
    mains_hz : float or None
        Mains hum frequency, Hz (None: no hum).
    seed : int
        Seeds the activation patterns, noise and contraction variability.
    movements : sequence of str
        Movement classes the patient can attempt (``rest`` is always possible).
    rest_emg_v, noise_v, mains_v, mvc_v : float
        Resting muscle EMG RMS, amplifier noise RMS, mains hum amplitude (mean over
        channels) and the EMG RMS of a fully active channel at level 1, all V.
    rise_s : float
        10–90 % rise time of the activation envelope, s.
    variability : float
        Relative standard deviation of the per-contraction gain.
    """

    def __init__(
        self,
        clock: Clock,
        n_channels: int = 8,
        sampling_rate_hz: float = 2000.0,
        mains_hz: float | None = 50,
        seed: int = 0,
        movements: Sequence[str] = UPPER_LIMB_MOVEMENTS,
        *,
        rest_emg_v: float = 5e-6,
        noise_v: float = 3e-6,
        mains_v: float = 10e-6,
        mvc_v: float = 0.5e-3,
        rise_s: float = 0.05,
        variability: float = 0.1,
    ) -> None:
        if int(n_channels) != n_channels or not 1 <= n_channels <= 256:
            raise ConfigError(f"n_channels: {n_channels!r} must be an integer in 1..256")
        if not (math.isfinite(sampling_rate_hz) and sampling_rate_hz >= 100):
            raise ConfigError(f"sampling_rate_hz: {sampling_rate_hz!r} must be >= 100 Hz")
        if mains_hz is not None and not 0 < mains_hz < sampling_rate_hz / 2:
            raise ConfigError(
                f"mains_hz: {mains_hz!r} must be in (0, {sampling_rate_hz / 2}) Hz or None"
            )
        for name, value in (("rest_emg_v", rest_emg_v), ("noise_v", noise_v),
                            ("mains_v", mains_v), ("mvc_v", mvc_v), ("variability", variability)):
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"{name}: {value!r} must be a finite number >= 0")
        if not rise_s > 0:
            raise ConfigError(f"rise_s: {rise_s!r} must be > 0 s")
        movements = tuple(movements)
        for m in movements:
            check_movement(m)
        if REST not in movements:
            movements = (REST, *movements)

        self.clock = clock
        self.n_channels = int(n_channels)
        self.sampling_rate_hz = float(sampling_rate_hz)
        self.mains_hz = None if mains_hz is None else float(mains_hz)
        self.seed = int(seed)
        self.movements: tuple[str, ...] = movements
        self.channel_names: tuple[str, ...] = tuple(f"EMG{i + 1}" for i in range(self.n_channels))
        self.rest_emg_v = float(rest_emg_v)
        self.noise_v = float(noise_v)
        self.mvc_v = float(mvc_v)
        self.variability = float(variability)

        seeds = np.random.SeedSequence(self.seed).spawn(4)
        self._pattern_rng = np.random.default_rng(seeds[0])
        self._intent_rng = np.random.default_rng(seeds[1])
        self._emg_seed, self._amp_seed = seeds[2], seeds[3]

        #: Activation pattern per movement, (n_channels,) in [0, 1]; rest is all zeros.
        self.activation_patterns: dict[str, np.ndarray] = self._make_patterns()
        fs = self.sampling_rate_hz
        self.mains_amplitude_v = mains_v * self._pattern_rng.uniform(0.5, 1.5, self.n_channels)
        self._mains_phase = self._pattern_rng.uniform(0, 2 * np.pi, self.n_channels)

        high = min(450.0, MAX_EDGE_FRACTION * fs)
        self._band_sos = signal.butter(4, [20.0, high], btype="bandpass", fs=fs, output="sos")
        impulse = np.zeros(int(2 * fs))
        impulse[0] = 1.0
        self._band_gain = float(np.sqrt(np.sum(signal.sosfilt(self._band_sos, impulse) ** 2)))
        tau_s = rise_s / math.log(9.0)  # 10-90 % rise of a first-order lag = tau * ln 9
        self._env_pole = math.exp(-1.0 / (fs * tau_s))

        self._lock = threading.Lock()
        # Intent script: sorted times, s, and the target amplitude row (n_channels,) each sets.
        self._intent_t: list[float] = []
        self._intent_amp: list[np.ndarray] = []
        self._intent_log: list[tuple[float, str, float]] = []
        self._base_amp = np.full(self.n_channels, self.rest_emg_v)
        self._started = False
        self._t0_s = 0.0
        self._next_index = 0

    # ------------------------------------------------------------------ model

    def _make_patterns(self) -> dict[str, np.ndarray]:
        rng = self._pattern_rng
        n = self.n_channels
        active = [m for m in UPPER_LIMB_MOVEMENTS if m != REST]  # fixed order: stable patterns
        ch = np.arange(n)
        patterns = {REST: np.zeros(n)}
        for j, movement in enumerate(active):
            center = j * n / len(active) + rng.uniform(-0.25, 0.25)
            antagonist = center + n / 2 + rng.uniform(-1.0, 1.0)

            def bump(c: float, width: float = 0.7) -> np.ndarray:
                d = np.abs(ch - c) % n
                d = np.minimum(d, n - d)  # electrodes sit on a ring around the forearm
                return np.exp(-0.5 * (d / width) ** 2)

            p = bump(center) + rng.uniform(0.3, 0.5) * bump(antagonist, 0.9)
            p = np.maximum(p, rng.uniform(0.05, 0.15, n))  # crosstalk floor
            patterns[movement] = p / p.max()
        return {m: patterns[m] for m in self.movements}

    def set_intent(self, movement: str, level: float, t_s: float | None = None) -> None:
        """Script an attempted movement at ``level`` in [0, 1], from ``t_s`` (default: now).

        Thread-safe. An intent for a time that has already been synthesised takes effect
        from the next synthesised sample.
        """
        check_movement(movement, self.movements)
        if not (math.isfinite(level) and 0.0 <= level <= 1.0):
            raise ConfigError(f"level: {level!r} must be in [0, 1]")
        t = self.clock.now() if t_s is None else float(t_s)
        with self._lock:
            gain = float(np.clip(1.0 + self.variability * self._intent_rng.standard_normal(),
                                 0.5, 1.5))
            per_channel = 1.0 + 0.05 * self._intent_rng.standard_normal(self.n_channels)
            amp = self.rest_emg_v + level * gain * self.mvc_v * np.clip(
                self.activation_patterns[movement] * per_channel, 0.0, None
            )
            i = int(np.searchsorted(self._intent_t, t, side="right"))
            self._intent_t.insert(i, t)
            self._intent_amp.insert(i, amp)
            self._intent_log.append((t, movement, float(level)))
        logger.debug("intent %s at level %.2f from t=%.3f s", movement, level, t)

    @property
    def intent_log(self) -> list[tuple[float, str, float]]:
        """Every scripted intent as (t_s, movement, level), in call order."""
        with self._lock:
            return list(self._intent_log)

    # ------------------------------------------------------------------ EmgSource

    def start(self) -> None:
        """Start (or restart) the stream: sample 0 is at ``clock.now()``."""
        with self._lock:
            fs = self.sampling_rate_hz
            self._t0_s = self.clock.now()
            self._next_index = 0
            self._emg_rng = np.random.default_rng(self._emg_seed)
            self._amp_rng = np.random.default_rng(self._amp_seed)
            n_sec = self._band_sos.shape[0]
            self._band_zi = np.zeros((n_sec, self.n_channels, 2))
            warm = self._emg_rng.standard_normal((int(_WARMUP_S * fs), self.n_channels)).T
            _, self._band_zi = signal.sosfilt(self._band_sos, warm, axis=-1, zi=self._band_zi)
            a = self._env_pole
            self._env_b, self._env_a = np.array([1.0 - a]), np.array([1.0, -a])
            zi_unit = signal.lfilter_zi(self._env_b, self._env_a)  # (1,)
            self._env_zi = zi_unit[None, :] * self._amplitude_at(np.array([self._t0_s]))
            self._started = True
        logger.info("simulated patient started: %d channels at %.0f Hz, seed %d",
                    self.n_channels, self.sampling_rate_hz, self.seed)

    def _amplitude_at(self, t_s: np.ndarray) -> np.ndarray:
        """Target amplitude (n_channels, n) of the intents in force at ``t_s``. Lock held."""
        table = np.vstack([self._base_amp, *self._intent_amp])  # row 0: before any intent
        idx = np.searchsorted(np.asarray(self._intent_t), t_s, side="right")
        return table[idx].T

    def read(self) -> EmgChunk | None:
        """Every sample from the previous read up to ``clock.now()``; None when none is due."""
        with self._lock:
            if not self._started:
                raise AcquisitionError("simulated patient: read() before start()")
            fs = self.sampling_rate_hz
            last = math.floor((self.clock.now() - self._t0_s) * fs + 1e-9)
            if last < self._next_index:
                return None
            k = np.arange(self._next_index, last + 1)
            n = k.size
            t = self._t0_s + k / fs
            target = self._amplitude_at(t)
            env, self._env_zi = signal.lfilter(
                self._env_b, self._env_a, target, axis=-1, zi=self._env_zi
            )
            white = self._emg_rng.standard_normal((n, self.n_channels)).T
            band, self._band_zi = signal.sosfilt(self._band_sos, white, axis=-1, zi=self._band_zi)
            data = env * band / self._band_gain
            data += self.noise_v * self._amp_rng.standard_normal((n, self.n_channels)).T
            if self.mains_hz is not None:
                phase = 2 * np.pi * self.mains_hz * k / fs
                data += self.mains_amplitude_v[:, None] * np.sin(
                    phase[None, :] + self._mains_phase[:, None]
                )
            self._next_index = last + 1
            self._prune(t[-1])
        return EmgChunk(t_s=t, data=data)

    def _prune(self, t_done_s: float) -> None:
        """Forget intents superseded before ``t_done_s`` (keep the one in force). Lock held."""
        i = int(np.searchsorted(self._intent_t, t_done_s, side="right")) - 1
        if i >= 0:
            self._base_amp = self._intent_amp[i]  # now the row "before any pending intent"
            del self._intent_t[:i + 1]
            del self._intent_amp[:i + 1]

    def stop(self) -> None:
        """Stop the stream; ``read`` afterwards raises until ``start`` is called again."""
        with self._lock:
            self._started = False
