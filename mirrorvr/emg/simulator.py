"""A simulated patient: multi-channel surface EMG from a residual limb, driven by an intent
script. Upper limb (a right transradial residual forearm) or lower limb (a transtibial
residual limb near the knee), chosen by the movement set (:func:`mirrorvr.movements.movement_limb`).

The signal model (all amplitudes in volts)::

    muscle[m, k]  = a[m, k] · (1 − drop · F[m, k]) · (1 + fluct · u[m, k])
                    · ( sqrt(1 − F[m, k]) · s_fresh[m, k] + sqrt(F[m, k]) · s_fatigued[m, k] )
    emg[c, k]     = Σ_m  M[c, m](t) · muscle[m, k]                       (volume conduction)
                    + noise_v[c] · w[c, k] + wander[c, k]                  (electrode noise)
                    + hum[c] · (sin(2π f_mains t + φ_c) + 0.2 sin(2π 3 f_mains t + φ'_c))

- **Muscles** (a table per limb, :data:`UPPER_MUSCLES`, :data:`LOWER_MUSCLES`) sit at an
  angle around the limb's cross-section and a depth. Each has its own independent
  unit-RMS source: Gaussian noise shaped like sEMG (median frequency ≈ 120 Hz fresh).
- **Mixing matrix** ``M`` (``(n_channels, n_muscles)``, V per unit activation): electrodes on a
  ring; a muscle's contribution falls off as a Gaussian of the angular distance, wider and
  weaker the deeper the muscle, over a volume-conduction floor. Every electrode picks up
  several muscles (crosstalk); every electrode has its own skin-contact gain.
- **Synergies** (:data:`UPPER_SYNERGIES`, :data:`LOWER_SYNERGIES`): each movement activates
  prime movers, synergists and a little co-contraction of everything else. Each contraction
  draws its own gain (``variability``) and its own per-muscle deviations from the synergy
  (``synergy_variability``), so repetitions differ the way real ones do.
- **Contraction level** ``level`` in [0, 1] scales the activation; ``a`` follows the target
  through a first-order lag whose 10–90 % rise time is ``rise_s`` (≈ 50 ms); ``u`` is slow
  (< 2 Hz) unit-variance noise: the force is not held perfectly (``fluct``).
- **Fatigue**: ``F = fatigue · lowpass(a, fatigue_tau_s)``, clipped to [0, 1]. A sustained
  contraction slowly loses amplitude (``fatigue_amplitude_drop`` at F = 1) while its spectrum
  shifts towards the fatigued source (median frequency ≈ 70 Hz); rest recovers with the same
  time constant.
- **Electrode shift** (:meth:`SimulatedPatient.shift_electrodes`, or ``electrode_shifts``):
  from a given time the ring is rotated by an angle, so ``M`` — and every class's pattern —
  changes, as when a liner or sleeve slips.
- **Stimulation artefacts** (:meth:`SimulatedPatient.add_stimulation`): every EMS pulse of a
  train puts a biphasic spike (``+A`` for one phase, ``-A`` for the next) and the
  amplifier's recovery tail (``0.3 A · exp(-t / 2 ms)``, cut at 20 ms) on the channels, ``A``
  following the train's ramps. :meth:`~SimulatedPatient.artefact_amplitudes_v` gives a
  plausible per-channel ``A`` for a train that accompanies a movement: largest on the
  electrodes over that movement's muscles (where the stimulation electrodes sit), a tenth
  of it elsewhere, ``stim_artefact_v_per_ma`` (1 mV per mA) at the nearest electrode.
- **Electrode noise**: white amplifier/contact noise (``noise_v`` ± 50 % per channel) and a slow
  baseline wander (< 1 Hz, ``wander_v``) that the decoder's band-pass removes; **mains hum**
  at ``mains_hz`` with a small third harmonic.

Typical levels: ~10–20 µV RMS at rest, ~0.1–1 mV RMS on the most active channels in a strong
contraction (``mvc_v`` is the largest channel's RMS of a typical movement at level 1).

The source is pull-based: :meth:`~SimulatedPatient.read` synthesises every sample from the
previous read up to ``clock.now()``, sample ``k`` at exactly ``t_start + k / fs``. Every
random stream draws per sample and every filter carries its state, so with a
:class:`~mirrorvr.clock.FakeClock` the output is deterministic for a given seed and script
and does not depend on how reads chunk the stream. No thread is needed.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import signal

from mirrorvr.clock import Clock
from mirrorvr.emg.filters import MAX_EDGE_FRACTION
from mirrorvr.emg.source import ComputedSource, EmgChunk
from mirrorvr.errors import AcquisitionError, ConfigError
from mirrorvr.movements import (
    ALL_MOVEMENTS,
    HAND_MOVEMENTS,
    LOWER_LIMB_MOVEMENTS,
    REST,
    UPPER_LIMB_MOVEMENTS,
    check_movement,
    movement_limb,
)

logger = logging.getLogger(__name__)

_WARMUP_S = 0.5  # noise filters run this long before sample 0, so they start stationary
#: Angular spread (SD, rad) of a muscle's field on the skin: a + b · depth.
_SPREAD_RAD = (0.6, 0.8)
#: Share of a muscle's peak amplitude that volume conduction carries to every electrode.
_VOLUME_FLOOR = 0.2
#: Stimulation artefact: amplitude of the amplifier's recovery tail relative to the spike,
#: its time constant and where it is cut, s.
_ARTEFACT_TAIL = (0.3, 0.002, 0.020)


@dataclass
class _StimTrain:
    first_pulse_s: float
    stop_s: float
    planned_stop_s: float
    frequency_hz: float
    amplitude_v: np.ndarray  # (n_channels,)
    pulse_width_s: float
    ramp_up_s: float
    ramp_down_s: float


@dataclass(frozen=True)
class Muscle:
    """A muscle under the electrode ring: ``angle_deg`` around the limb, ``depth`` in [0, 1]."""

    name: str
    angle_deg: float
    depth: float


# Angles: 0° volar (anterior), 90° radial (lateral), 180° dorsal (posterior), 270° ulnar
# (medial), for a cross-section of the proximal third of the right forearm.
UPPER_MUSCLES: tuple[Muscle, ...] = (
    Muscle("palmaris_longus", 0, 0.15),
    Muscle("flexor_carpi_radialis", 30, 0.15),
    Muscle("flexor_pollicis_longus", 45, 0.75),
    Muscle("pronator_teres", 65, 0.35),
    Muscle("brachioradialis", 100, 0.15),
    Muscle("extensor_carpi_radialis_longus", 125, 0.2),
    Muscle("abductor_pollicis_longus", 145, 0.65),
    Muscle("extensor_carpi_radialis_brevis", 150, 0.3),
    Muscle("supinator", 160, 0.8),
    Muscle("extensor_digitorum", 185, 0.15),
    Muscle("extensor_carpi_ulnaris", 225, 0.2),
    Muscle("flexor_carpi_ulnaris", 275, 0.15),
    Muscle("flexor_digitorum_profundus", 300, 0.7),
    Muscle("flexor_digitorum_superficialis", 345, 0.4),
)

# Angles: 0° anterior (shin), 90° lateral, 180° posterior (calf), 270° medial; a ring just
# below the knee, where the distal thigh muscles' tendons and bellies still reach.
LOWER_MUSCLES: tuple[Muscle, ...] = (
    Muscle("tibialis_anterior", 20, 0.15),
    Muscle("extensor_hallucis_longus", 40, 0.7),
    Muscle("extensor_digitorum_longus", 55, 0.3),
    Muscle("vastus_lateralis", 75, 0.6),
    Muscle("peroneus_longus", 100, 0.2),
    Muscle("peroneus_brevis", 115, 0.6),
    Muscle("biceps_femoris", 140, 0.55),
    Muscle("gastrocnemius_lateralis", 160, 0.15),
    Muscle("soleus", 185, 0.45),
    Muscle("flexor_hallucis_longus", 170, 0.8),
    Muscle("tibialis_posterior", 200, 0.85),
    Muscle("gastrocnemius_medialis", 215, 0.15),
    Muscle("semitendinosus", 240, 0.55),
    Muscle("flexor_digitorum_longus", 250, 0.75),
    Muscle("vastus_medialis", 320, 0.55),
)

# A ring around the residual thigh (transfemoral), mid-thigh: the quadriceps in front, the
# hamstrings behind, the adductors medial.
THIGH_MUSCLES: tuple[Muscle, ...] = (
    Muscle("rectus_femoris", 0, 0.15),
    Muscle("vastus_lateralis", 60, 0.2),
    Muscle("tensor_fasciae_latae_band", 95, 0.1),
    Muscle("vastus_intermedius", 30, 0.75),
    Muscle("biceps_femoris", 150, 0.2),
    Muscle("semitendinosus", 205, 0.2),
    Muscle("semimembranosus", 225, 0.5),
    Muscle("adductor_magnus", 250, 0.6),
    Muscle("gracilis", 275, 0.15),
    Muscle("adductor_longus", 300, 0.4),
    Muscle("sartorius", 325, 0.15),
    Muscle("vastus_medialis", 345, 0.3),
)

#: Muscle activation per movement at level 1 (prime movers 1, synergists less); muscles
#: not named get the patient's co-contraction.
UPPER_SYNERGIES: dict[str, dict[str, float]] = {
    "hand_open": {"extensor_digitorum": 1.0, "abductor_pollicis_longus": 0.6,
                  "extensor_carpi_ulnaris": 0.3, "extensor_carpi_radialis_brevis": 0.3},
    "hand_close": {"flexor_digitorum_superficialis": 1.0, "flexor_digitorum_profundus": 1.0,
                   "flexor_pollicis_longus": 0.5, "flexor_carpi_ulnaris": 0.25,
                   "extensor_carpi_radialis_brevis": 0.3},
    "wrist_flexion": {"flexor_carpi_radialis": 1.0, "flexor_carpi_ulnaris": 1.0,
                      "palmaris_longus": 0.7, "flexor_digitorum_superficialis": 0.4},
    "wrist_extension": {"extensor_carpi_radialis_longus": 1.0,
                        "extensor_carpi_radialis_brevis": 1.0, "extensor_carpi_ulnaris": 0.8,
                        "extensor_digitorum": 0.4},
    "pronation": {"pronator_teres": 1.0, "flexor_carpi_radialis": 0.3, "brachioradialis": 0.3},
    "supination": {"supinator": 1.0, "brachioradialis": 0.5, "abductor_pollicis_longus": 0.3},
    "radial_deviation": {"extensor_carpi_radialis_longus": 1.0, "flexor_carpi_radialis": 0.8,
                         "abductor_pollicis_longus": 0.6, "brachioradialis": 0.3},
    "ulnar_deviation": {"flexor_carpi_ulnaris": 1.0, "extensor_carpi_ulnaris": 1.0},
    "power_grasp": {"flexor_digitorum_superficialis": 1.0, "flexor_digitorum_profundus": 1.0,
                    "flexor_pollicis_longus": 0.8, "extensor_carpi_radialis_brevis": 0.5,
                    "extensor_carpi_radialis_longus": 0.4, "flexor_carpi_ulnaris": 0.3},
    "pinch": {"flexor_pollicis_longus": 1.0, "flexor_digitorum_profundus": 0.6,
              "flexor_digitorum_superficialis": 0.5, "extensor_digitorum": 0.2},
    "key_grip": {"flexor_pollicis_longus": 1.0, "flexor_digitorum_profundus": 0.4,
                 "abductor_pollicis_longus": 0.4, "flexor_digitorum_superficialis": 0.3},
    "point": {"flexor_digitorum_superficialis": 0.7, "extensor_digitorum": 0.6,
              "flexor_digitorum_profundus": 0.6, "flexor_pollicis_longus": 0.3},
}

LOWER_SYNERGIES: dict[str, dict[str, float]] = {
    "ankle_dorsiflexion": {"tibialis_anterior": 1.0, "extensor_digitorum_longus": 0.6,
                           "extensor_hallucis_longus": 0.5},
    "ankle_plantarflexion": {"gastrocnemius_medialis": 1.0, "gastrocnemius_lateralis": 1.0,
                             "soleus": 1.0, "flexor_hallucis_longus": 0.3,
                             "peroneus_longus": 0.3, "tibialis_posterior": 0.3},
    "ankle_inversion": {"tibialis_posterior": 1.0, "tibialis_anterior": 0.6,
                        "flexor_digitorum_longus": 0.3},
    "ankle_eversion": {"peroneus_longus": 1.0, "peroneus_brevis": 1.0,
                       "extensor_digitorum_longus": 0.3},
    "toe_flexion": {"flexor_digitorum_longus": 1.0, "flexor_hallucis_longus": 1.0,
                    "soleus": 0.2},
    "toe_extension": {"extensor_digitorum_longus": 1.0, "extensor_hallucis_longus": 1.0,
                      "tibialis_anterior": 0.3},
    "knee_extension": {"vastus_medialis": 1.0, "vastus_lateralis": 1.0},
    "knee_flexion": {"biceps_femoris": 1.0, "semitendinosus": 1.0,
                     "gastrocnemius_medialis": 0.4, "gastrocnemius_lateralis": 0.4},
}


# Transfemoral: knee movements from the thigh muscles that perform them; the phantom ankle
# leaves a weaker, distinct co-activation in the thigh (the muscles that moved the ankle are
# gone), which a decoder can still learn (Hargrove et al.; REFERENCES.md lower-limb classes).
THIGH_SYNERGIES: dict[str, dict[str, float]] = {
    "knee_extension": {"vastus_lateralis": 1.0, "vastus_medialis": 1.0,
                       "vastus_intermedius": 1.0, "rectus_femoris": 0.8},
    "knee_flexion": {"biceps_femoris": 1.0, "semitendinosus": 1.0, "semimembranosus": 1.0,
                     "gracilis": 0.4, "sartorius": 0.3},
    "ankle_dorsiflexion": {"rectus_femoris": 0.5, "sartorius": 0.5,
                           "tensor_fasciae_latae_band": 0.4, "adductor_longus": 0.2},
    "ankle_plantarflexion": {"biceps_femoris": 0.5, "adductor_magnus": 0.5,
                             "semimembranosus": 0.3, "gracilis": 0.3},
}
#: The thigh's classes (the rest of the lower-limb classes are not available above the knee).
THIGH_MOVEMENTS: tuple[str, ...] = (REST, *THIGH_SYNERGIES)


def limb_of(movements: Sequence[str]) -> str:
    """``"upper"`` or ``"lower"``: the one limb every non-rest movement belongs to."""
    limbs = {movement_limb(m) for m in movements if m != REST}
    if len(limbs) > 1:
        raise ConfigError(
            f"movements: {list(movements)!r} mix upper- and lower-limb classes; a simulated "
            "patient has one residual limb"
        )
    return limbs.pop() if limbs else "upper"


def _band_source(fs: float, low_hz: float, high_hz: float) -> tuple[np.ndarray, float]:
    """2nd-order band-pass (SOS) and the RMS gain it gives unit white noise."""
    high = min(high_hz, MAX_EDGE_FRACTION * fs)
    low = min(low_hz, high / 3)
    sos = signal.butter(2, [low, high], btype="bandpass", fs=fs, output="sos")
    impulse = np.zeros(int(2 * fs))
    impulse[0] = 1.0
    return sos, float(np.sqrt(np.sum(signal.sosfilt(sos, impulse) ** 2)))


class SimulatedPatient(ComputedSource):
    """Simulated residual-limb EMG implementing :class:`~mirrorvr.emg.source.EmgSource`.

    Parameters
    ----------
    clock : Clock
        Session clock (a FakeClock in tests).
    n_channels : int
        Electrodes evenly spaced on a ring around the residual limb, named ``EMG1..EMGn``.
    sampling_rate_hz : float
        Sampling rate, Hz.
    mains_hz : float or None
        Mains hum frequency, Hz (None: no hum).
    seed : int
        Seeds the electrode placement, contact gains, noise and contraction variability.
    movements : sequence of str
        Movement classes the patient can attempt (``rest`` is always possible); all of one
        limb, which selects the muscle table (upper: :data:`mirrorvr.movements.HAND_MOVEMENTS`,
        lower: :data:`mirrorvr.movements.LOWER_LIMB_MOVEMENTS`).
    rest_emg_v, noise_v, mains_v, mvc_v : float
        Resting muscle EMG RMS per channel, amplifier/contact noise RMS, mains hum amplitude
        (mean over channels) and the largest channel's EMG RMS of a typical movement at
        level 1, all V.
    rise_s : float
        10–90 % rise time of the activation envelope, s.
    variability : float
        Relative standard deviation of each contraction's overall gain.
    synergy_variability : float
        Relative standard deviation of each muscle's share in each contraction.
    co_contraction : float
        Activation of the muscles a movement's synergy does not name, relative to level.
    fluct : float
        Relative standard deviation of the slow (< 2 Hz) force fluctuation.
    fatigue : float
        Fatigue reached by a sustained contraction at level 1 after many ``fatigue_tau_s``
        (0: none, 1: fully fatigued spectrum).
    fatigue_tau_s : float
        Time constant of fatigue and of recovery at rest, s.
    fatigue_amplitude_drop : float
        Relative amplitude lost at full fatigue.
    wander_v : float
        RMS of the slow (< 1 Hz) electrode baseline wander, V.
    electrode_shifts : sequence of (t_s, angle_deg)
        Electrode-shift events scheduled up front (see :meth:`shift_electrodes`).
    residual : str or None
        The amputation level, which picks the ring's muscles: "transradial" (forearm),
        "transtibial" (below the knee), "transfemoral" (thigh: :data:`THIGH_MUSCLES`);
        None: the movements' limb's default.
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
        variability: float = 0.15,
        synergy_variability: float = 0.35,
        co_contraction: float = 0.05,
        fluct: float = 0.4,
        fatigue: float = 0.4,
        fatigue_tau_s: float = 60.0,
        fatigue_amplitude_drop: float = 0.3,
        wander_v: float = 20e-6,
        electrode_shifts: Sequence[tuple[float, float]] = (),
        residual: str | None = None,
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
                            ("mains_v", mains_v), ("mvc_v", mvc_v), ("variability", variability),
                            ("synergy_variability", synergy_variability),
                            ("co_contraction", co_contraction), ("fluct", fluct),
                            ("wander_v", wander_v)):
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"{name}: {value!r} must be a finite number >= 0")
        for name, value in (("fatigue", fatigue),
                            ("fatigue_amplitude_drop", fatigue_amplitude_drop)):
            if not (math.isfinite(value) and 0 <= value <= 1):
                raise ConfigError(f"{name}: {value!r} must be in [0, 1]")
        if not rise_s > 0:
            raise ConfigError(f"rise_s: {rise_s!r} must be > 0 s")
        if not fatigue_tau_s > 0:
            raise ConfigError(f"fatigue_tau_s: {fatigue_tau_s!r} must be > 0 s")
        movements = tuple(movements)
        for m in movements:
            check_movement(m, ALL_MOVEMENTS)
        self.limb = limb_of(movements)
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
        self.synergy_variability = float(synergy_variability)
        self.fluct = float(fluct)
        self.fatigue = float(fatigue)
        self.fatigue_amplitude_drop = float(fatigue_amplitude_drop)
        self.wander_v = float(wander_v)

        #: The muscles under the ring and their synergies (this residual limb's tables).
        self.residual = residual or ("transradial" if self.limb == "upper" else "transtibial")
        if self.residual == "transfemoral":
            self.muscles, table, known = THIGH_MUSCLES, THIGH_SYNERGIES, THIGH_MOVEMENTS
            missing = [m for m in movements if m not in known]
            if missing:
                raise ConfigError(f"movements: {missing!r} cannot be attempted with a "
                                  f"transfemoral residual limb (allowed: {list(known)})")
        elif self.limb == "upper":
            self.muscles, table, known = UPPER_MUSCLES, UPPER_SYNERGIES, HAND_MOVEMENTS
        else:
            self.muscles, table, known = LOWER_MUSCLES, LOWER_SYNERGIES, LOWER_LIMB_MOVEMENTS
        index = {m.name: i for i, m in enumerate(self.muscles)}
        n_m = len(self.muscles)
        #: Muscle activation at level 1 per movement, (n_muscles,); rest is all zeros.
        self.synergies: dict[str, np.ndarray] = {REST: np.zeros(n_m)}
        for movement in known:
            if movement == REST:
                continue
            a = np.full(n_m, float(co_contraction))
            for name, value in table[movement].items():
                a[index[name]] = value
            self.synergies[movement] = a

        seeds = np.random.SeedSequence(self.seed).spawn(8)
        layout_rng = np.random.default_rng(seeds[0])
        self._intent_rng = np.random.default_rng(seeds[1])
        self._stream_seeds = seeds[2:]

        # Electrode placement: the ring's rotation, per-electrode contact gain and noise.
        self._ring_offset_deg = float(layout_rng.uniform(-15.0, 15.0))
        self._contact_gain = layout_rng.uniform(0.8, 1.2, self.n_channels)
        self.noise_v_per_channel = self.noise_v * layout_rng.uniform(0.5, 1.5, self.n_channels)
        mixing_unit = self._mixing(0.0)  # unit scale, unshifted
        # V per unit activation: the median movement's strongest channel is mvc_v at level 1.
        peaks = [np.sqrt((mixing_unit ** 2) @ (a ** 2)).max()
                 for m, a in self.synergies.items() if m != REST]
        self._volts_per_unit = self.mvc_v / float(np.median(peaks))
        # Rest tone: every muscle slightly active, giving at least rest_emg_v on every channel.
        tone = np.sqrt((mixing_unit ** 2).sum(axis=1))
        self._rest_activation = self.rest_emg_v / (self._volts_per_unit * float(np.min(tone)))

        #: Expected channel RMS pattern of each movement at level 1, (n_channels,) in [0, 1]
        #: (unshifted electrodes, fresh muscles); rest is all zeros.
        self.activation_patterns: dict[str, np.ndarray] = {}
        for m in self.movements:
            rms = np.sqrt((mixing_unit ** 2) @ (self.synergies[m] ** 2))
            self.activation_patterns[m] = rms / rms.max() if m != REST else np.zeros_like(rms)

        fs = self.sampling_rate_hz
        self.mains_amplitude_v = mains_v * layout_rng.uniform(0.5, 1.5, self.n_channels)
        self._mains_phase = layout_rng.uniform(0, 2 * np.pi, (2, self.n_channels))
        # Source spectra (REFERENCES.md: sEMG band 20-450 Hz): fresh median ≈ 120 Hz,
        # fatigued ≈ 70 Hz.
        self._fresh_sos, self._fresh_gain = _band_source(fs, 20.0, 200.0)
        self._tired_sos, self._tired_gain = _band_source(fs, 12.0, 110.0)
        self._slow_sos = signal.butter(2, min(2.0, 0.1 * fs), fs=fs, output="sos")
        self._slow_gain = _lowpass_gain(self._slow_sos, fs)
        self._wander_sos = signal.butter(2, min(1.0, 0.05 * fs), fs=fs, output="sos")
        self._wander_gain = _lowpass_gain(self._wander_sos, fs)
        tau_s = rise_s / math.log(9.0)  # 10-90 % rise of a first-order lag = tau * ln 9
        self._env_pole = math.exp(-1.0 / (fs * tau_s))
        self._fatigue_pole = math.exp(-1.0 / (fs * float(fatigue_tau_s)))

        self._lock = threading.Lock()
        # Intent script: sorted times, s, and the target activation row (n_muscles,) each sets.
        self._intent_t: list[float] = []
        self._intent_act: list[np.ndarray] = []
        self._intent_log: list[tuple[float, str, float]] = []
        self._base_act = np.full(n_m, self._rest_activation)
        # Electrode shifts: sorted times, s, and the ring rotation, deg, from then on.
        self._shift_t: list[float] = []
        self._shift_deg: list[float] = []
        self._base_shift_deg = 0.0
        self._mixing_cache: dict[float, np.ndarray] = {}
        #: Stimulation artefact per mA of stimulation at the nearest electrode, V (0: none).
        self.stim_artefact_v_per_ma = 1e-3
        self._stim: dict[int, _StimTrain] = {}
        self._next_stim_id = 0
        self._started = False
        self._t0_s = 0.0
        self._next_index = 0
        for t_s, angle_deg in electrode_shifts:
            self.shift_electrodes(angle_deg, t_s)

    # ------------------------------------------------------------------ model

    @property
    def n_muscles(self) -> int:
        return len(self.muscles)

    def _mixing(self, shift_deg: float) -> np.ndarray:
        """Unit-scale mixing matrix ``(n_channels, n_muscles)`` with the ring rotated."""
        electrode = self._ring_offset_deg + shift_deg + 360.0 * np.arange(self.n_channels) / \
            self.n_channels
        angle = np.array([m.angle_deg for m in self.muscles])
        depth = np.array([m.depth for m in self.muscles])
        d = np.abs(electrode[:, None] - angle[None, :]) % 360.0
        d = np.radians(np.minimum(d, 360.0 - d))
        width = _SPREAD_RAD[0] + _SPREAD_RAD[1] * depth  # deep muscles spread wider ...
        gain = np.exp(-1.5 * depth)  # ... and weaker
        spread = np.exp(-0.5 * (d / width[None, :]) ** 2)
        floor = _VOLUME_FLOOR * gain  # volume conduction reaches every electrode a little
        return self._contact_gain[:, None] * (gain[None, :] * spread + floor[None, :])

    def mixing_matrix(self, t_s: float | None = None) -> np.ndarray:
        """Muscle-to-channel mixing ``(n_channels, n_muscles)`` in V per unit activation, in
        force at ``t_s`` (default: now)."""
        with self._lock:
            t = self.clock.now() if t_s is None else float(t_s)
            i = int(np.searchsorted(self._shift_t, t, side="right"))
            shift = ([self._base_shift_deg] + self._shift_deg)[i]
            return self._volts_per_unit * self._mixing(shift)

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
            rng = self._intent_rng
            gain = float(np.clip(1.0 + self.variability * rng.standard_normal(), 0.5, 1.5))
            share = np.clip(1.0 + self.synergy_variability * rng.standard_normal(self.n_muscles),
                            0.2, 2.0)
            synergy = self.synergies[movement]
            varied = synergy * share
            if varied.any():  # the mix varies, the overall effort (RMS over muscles) does not
                varied *= np.linalg.norm(synergy) / np.linalg.norm(varied)
            act = self._rest_activation + level * gain * varied
            i = int(np.searchsorted(self._intent_t, t, side="right"))
            self._intent_t.insert(i, t)
            self._intent_act.insert(i, act)
            self._intent_log.append((t, movement, float(level)))
        logger.debug("intent %s at level %.2f from t=%.3f s", movement, level, t)

    def shift_electrodes(self, angle_deg: float, t_s: float | None = None) -> None:
        """From ``t_s`` (default: now) the electrode ring sits ``angle_deg`` further round the
        limb than before (cumulative), so every channel sees a different muscle mix.
        Thread-safe."""
        if not math.isfinite(angle_deg):
            raise ConfigError(f"angle_deg: {angle_deg!r} must be finite")
        t = self.clock.now() if t_s is None else float(t_s)
        with self._lock:
            i = int(np.searchsorted(self._shift_t, t, side="right"))
            before = ([self._base_shift_deg] + self._shift_deg)[i]
            self._shift_t.insert(i, t)
            self._shift_deg.insert(i, before + float(angle_deg))
            for j in range(i + 1, len(self._shift_deg)):  # later shifts build on this one
                self._shift_deg[j] += float(angle_deg)
            self._intent_log.append((t, f"electrode_shift {float(angle_deg):+.1f} deg", 0.0))
        logger.info("electrode shift %+.1f deg from t=%.3f s", angle_deg, t)

    def add_stimulation(self, start_s: float, stop_s: float, frequency_hz: float,
                        amplitude_v, channels: Sequence[int] | None = None, *,
                        pulse_width_us: float = 300.0, ramp_up_s: float = 0.0,
                        ramp_down_s: float = 0.0) -> int:
        """Add the artefacts of a stimulation train: a pulse at ``start_s`` and every
        ``1 / frequency_hz`` after it while before ``stop_s`` (session time, s).

        ``amplitude_v`` is the spike's peak, V: one value for every channel of ``channels``
        (default all) or one per channel ``(n_channels,)``. The amplitude ramps up from 0
        over ``ramp_up_s`` after ``start_s`` and down over ``ramp_down_s`` before
        ``stop_s``. Returns an id for :meth:`stop_stimulation`. Thread-safe.
        """
        if not (math.isfinite(start_s) and math.isfinite(stop_s) and stop_s >= start_s):
            raise ConfigError(f"start_s, stop_s: {start_s!r}, {stop_s!r} must be finite with "
                              "stop >= start")
        if not (math.isfinite(frequency_hz) and frequency_hz > 0):
            raise ConfigError(f"frequency_hz: {frequency_hz!r} must be > 0")
        if not (math.isfinite(pulse_width_us) and pulse_width_us > 0):
            raise ConfigError(f"pulse_width_us: {pulse_width_us!r} must be > 0")
        amp = np.asarray(amplitude_v, dtype=np.float64)
        if amp.ndim == 0:
            amp = np.full(self.n_channels, float(amp))
        if amp.shape != (self.n_channels,) or not np.isfinite(amp).all():
            raise ConfigError(f"amplitude_v: expected a finite value or {self.n_channels} "
                              f"values, got shape {amp.shape}")
        if channels is not None:
            chans = list(channels)
            if not all(0 <= int(c) < self.n_channels for c in chans):
                raise ConfigError(f"channels: {chans!r} must be in 0..{self.n_channels - 1}")
            keep = np.zeros(self.n_channels, dtype=bool)
            keep[[int(c) for c in chans]] = True
            amp = np.where(keep, amp, 0.0)
        train = _StimTrain(float(start_s), float(stop_s), float(stop_s), float(frequency_hz),
                           amp, 1e-6 * float(pulse_width_us), max(0.0, float(ramp_up_s)),
                           max(0.0, float(ramp_down_s)))
        with self._lock:
            train_id = self._next_stim_id
            self._next_stim_id += 1
            self._stim[train_id] = train
        return train_id

    def stop_stimulation(self, train_id: int, stop_s: float) -> None:
        """End train ``train_id`` early: no pulse from ``stop_s`` on. Thread-safe."""
        with self._lock:
            train = self._stim.get(train_id)
            if train is not None:
                train.stop_s = min(train.stop_s, float(stop_s))

    def artefact_amplitudes_v(self, movement: str, amplitude_ma: float) -> np.ndarray:
        """Spike peak per channel, V, of a train of ``amplitude_ma`` given with ``movement``:
        ``stim_artefact_v_per_ma`` at the electrode over the movement's muscles, a tenth of it
        on the far side; the same on every channel for a movement this limb does not have."""
        pattern = self.activation_patterns.get(movement)
        if pattern is None or not pattern.any():
            pattern = np.ones(self.n_channels)
        return self.stim_artefact_v_per_ma * float(amplitude_ma) * (0.1 + 0.9 * pattern)

    def _artefacts(self, t: np.ndarray) -> np.ndarray | None:
        """Artefacts of every train on samples ``t`` (n,), (n_channels, n) V. Lock held."""
        if not self._stim:
            return None
        tail_a, tail_tau, tail_cut = _ARTEFACT_TAIL
        out = np.zeros((self.n_channels, t.size))
        wave = np.zeros(t.size)
        for train_id, tr in list(self._stim.items()):
            if tr.stop_s + tail_cut < t[0] - 1.0:  # long past: forget it
                del self._stim[train_id]
                continue
            period = 1.0 / tr.frequency_hz
            k0 = max(0, math.ceil((t[0] - tail_cut - tr.first_pulse_s) / period - 1e-9))
            k1 = math.floor((min(t[-1], tr.stop_s) - tr.first_pulse_s) / period + 1e-9)
            if k1 < k0 or not tr.amplitude_v.any():
                continue
            wave[:] = 0.0
            for k in range(k0, k1 + 1):
                tp = tr.first_pulse_s + k * period
                if tp >= tr.stop_s:
                    break
                scale = 1.0
                if tr.ramp_up_s > 0:
                    scale = min(scale, (tp - tr.first_pulse_s) / tr.ramp_up_s)
                if tr.ramp_down_s > 0:
                    scale = min(scale, (tr.planned_stop_s - tp) / tr.ramp_down_s)
                scale = max(scale, 0.0)
                dt = t - tp
                pw = tr.pulse_width_s
                wave += scale * np.where((dt >= 0) & (dt < pw), 1.0, 0.0)
                wave -= scale * np.where((dt >= pw) & (dt < 2 * pw), 1.0, 0.0)
                tail = (dt >= 2 * pw) & (dt < tail_cut)
                wave[tail] += scale * tail_a * np.exp(-(dt[tail] - 2 * pw) / tail_tau)
            out += tr.amplitude_v[:, None] * wave[None, :]
        return out

    @property
    def intent_log(self) -> list[tuple[float, str, float]]:
        """Every scripted intent as (t_s, movement, level), in call order (electrode shifts
        appear as ``("electrode_shift +X deg", 0)``)."""
        with self._lock:
            return list(self._intent_log)

    # ------------------------------------------------------------------ EmgSource

    def start(self) -> None:
        """Start (or restart) the stream: sample 0 is at ``clock.now()``."""
        with self._lock:
            fs = self.sampling_rate_hz
            self._t0_s = self.clock.now()
            self._next_index = 0
            self._rngs = [np.random.default_rng(s) for s in self._stream_seeds]
            n_m, n_c = self.n_muscles, self.n_channels
            n_warm = int(_WARMUP_S * fs)
            self._zi = {}
            for key, sos, rng, rows in (("fresh", self._fresh_sos, self._rngs[0], n_m),
                                        ("tired", self._tired_sos, self._rngs[1], n_m),
                                        ("slow", self._slow_sos, self._rngs[2], n_m),
                                        ("wander", self._wander_sos, self._rngs[3], n_c)):
                zi = np.zeros((sos.shape[0], rows, 2))
                warm = rng.standard_normal((n_warm, rows)).T
                _, self._zi[key] = signal.sosfilt(sos, warm, axis=-1, zi=zi)
            a = self._env_pole
            self._env_b, self._env_a = np.array([1.0 - a]), np.array([1.0, -a])
            start_act = self._activation_at(np.array([self._t0_s]))  # (n_m, 1)
            self._env_zi = signal.lfilter_zi(self._env_b, self._env_a)[None, :] * start_act
            f = self._fatigue_pole
            self._fat_b, self._fat_a = np.array([1.0 - f]), np.array([1.0, -f])
            self._fat_zi = np.zeros((n_m, 1))
            self._started = True
        logger.info("simulated patient started: %s limb, %d muscles, %d channels at %.0f Hz, "
                    "seed %d", self.limb, self.n_muscles, self.n_channels,
                    self.sampling_rate_hz, self.seed)

    def _activation_at(self, t_s: np.ndarray) -> np.ndarray:
        """Target activation (n_muscles, n) of the intents in force at ``t_s``. Lock held."""
        table = np.vstack([self._base_act, *self._intent_act])  # row 0: before any intent
        idx = np.searchsorted(np.asarray(self._intent_t), t_s, side="right")
        return table[idx].T

    def _mix(self, t_s: np.ndarray, muscle: np.ndarray) -> np.ndarray:
        """Channels (n_channels, n) from muscle signals, with the electrode position in force
        at each sample. Lock held."""
        shifts = [self._base_shift_deg] + self._shift_deg
        idx = np.searchsorted(np.asarray(self._shift_t), t_s, side="right")
        out = np.empty((self.n_channels, t_s.size))
        for i in np.unique(idx):
            sel = idx == i
            shift = shifts[i]
            mix = self._mixing_cache.get(shift)
            if mix is None:
                mix = self._mixing_cache[shift] = self._volts_per_unit * self._mixing(shift)
            out[:, sel] = mix @ muscle[:, sel]
        return out

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
            n_m, n_c = self.n_muscles, self.n_channels
            env, self._env_zi = signal.lfilter(
                self._env_b, self._env_a, self._activation_at(t), axis=-1, zi=self._env_zi
            )
            fat, self._fat_zi = signal.lfilter(self._fat_b, self._fat_a, env, axis=-1,
                                               zi=self._fat_zi)
            fatigue = np.clip(self.fatigue * fat, 0.0, 1.0)
            noise = {}
            for key, sos, rng, rows in (("fresh", self._fresh_sos, self._rngs[0], n_m),
                                        ("tired", self._tired_sos, self._rngs[1], n_m),
                                        ("slow", self._slow_sos, self._rngs[2], n_m),
                                        ("wander", self._wander_sos, self._rngs[3], n_c)):
                white = rng.standard_normal((n, rows)).T
                noise[key], self._zi[key] = signal.sosfilt(sos, white, axis=-1,
                                                           zi=self._zi[key])
            source = (np.sqrt(1.0 - fatigue) * noise["fresh"] / self._fresh_gain
                      + np.sqrt(fatigue) * noise["tired"] / self._tired_gain)
            amplitude = env * (1.0 - self.fatigue_amplitude_drop * fatigue) * np.clip(
                1.0 + self.fluct * noise["slow"] / self._slow_gain, 0.2, None)
            data = self._mix(t, amplitude * source)
            data += self.noise_v_per_channel[:, None] * self._rngs[4].standard_normal((n, n_c)).T
            data += self.wander_v * noise["wander"] / self._wander_gain
            if self.mains_hz is not None:
                for h, scale in ((1, 1.0), (3, 0.2)):
                    if h * self.mains_hz >= fs / 2:
                        continue
                    phase = 2 * np.pi * h * self.mains_hz * k / fs
                    data += scale * self.mains_amplitude_v[:, None] * np.sin(
                        phase[None, :] + self._mains_phase[h // 3, :, None]
                    )
            artefacts = self._artefacts(t)
            if artefacts is not None:
                data += artefacts
            self._next_index = last + 1
            self._prune(t[-1])
        return EmgChunk(t_s=t, data=data)

    def _prune(self, t_done_s: float) -> None:
        """Forget intents and shifts superseded before ``t_done_s`` (keep the ones in force).
        Lock held."""
        i = int(np.searchsorted(self._intent_t, t_done_s, side="right")) - 1
        if i >= 0:
            self._base_act = self._intent_act[i]  # now the row "before any pending intent"
            del self._intent_t[:i + 1]
            del self._intent_act[:i + 1]
        i = int(np.searchsorted(self._shift_t, t_done_s, side="right")) - 1
        if i >= 0:
            self._base_shift_deg = self._shift_deg[i]
            del self._shift_t[:i + 1]
            del self._shift_deg[:i + 1]

    def stop(self) -> None:
        """Stop the stream; ``read`` afterwards raises until ``start`` is called again."""
        with self._lock:
            self._started = False


def _lowpass_gain(sos: np.ndarray, fs: float) -> float:
    """RMS gain of a low-pass SOS filter on unit white noise."""
    impulse = np.zeros(int(20 * fs))
    impulse[0] = 1.0
    return float(np.sqrt(np.sum(signal.sosfilt(sos, impulse) ** 2)))
