"""The mirror block's tracker: one source, conditioned, with its gaps and its movements.

:class:`MirrorDriver` owns an :class:`~mirrorvr.tracking.source.IntactLimbSource` and does
for every source alike what turns raw readings into the intact limb the mirror shows:

1. **neutral offsets** (:mod:`mirrorvr.tracking.neutral`), measured in the protocol's
   neutral step (:meth:`MirrorDriver.begin_neutral` / :meth:`MirrorDriver.finish_neutral`);
2. **One Euro filtering** per joint (:mod:`mirrorvr.tracking.one_euro`) on the tracker's
   own timestamps;
3. **joint limits** of the skeleton (and the relaxed rest value for joints the source does
   not measure);
4. **movement class and level** for stimulation (:mod:`mirrorvr.tracking.classify`, or the
   source's own, e.g. the intact-side decoder's);
5. **tracking loss**: no confident sample for ``lost_after_s`` -> the pose eases to rest
   over ``ease_s`` (smoothstep, no jump), the movement is ``rest`` (so mirror-mode
   stimulation pauses), the HUD line says why, and a gap is recorded; when tracking
   returns the pose eases back over ``ease_s`` and stimulation resumes once it is in.

Threads: :meth:`step` runs on the control thread (it reads the source, which never
blocks); :meth:`frame_at`, :meth:`pose_at`, :meth:`movement_at` may run on any thread
(the render thread asks for the pose at a frame's photon time). Times are session seconds.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from mirrorvr.errors import ConfigError
from mirrorvr.limb.poses import target_pose
from mirrorvr.limb.skeleton import Pose, limb_spec
from mirrorvr.movements import REST
from mirrorvr.tracking.classify import PoseClassifier
from mirrorvr.tracking.neutral import NeutralOffsets, NeutralPoseCalibration
from mirrorvr.tracking.one_euro import OneEuroFilter

log = logging.getLogger(__name__)

#: Per frame, what the recording keeps of the tracked pose shown (stream "tracking").
FRAME_CHANNELS: tuple[str, ...] = (
    "sample_s", "processing_s", "received_s", "photon_s", "confidence", "tracking",
)
#: Conditioned samples kept for the render thread (~8 s at 60 Hz).
HISTORY = 512
#: Capture-to-arrival lag assumed before a source's first sample, s (a webcam tracker's
#: on this machine; the lag measured in a stretch replaces it).
ASSUMED_ARRIVAL_LAG_S = 0.05


@dataclass(frozen=True)
class DriverSettings:
    """How the driver conditions a source (defaults: see the README's filter table).

    Attributes
    ----------
    min_cutoff_hz, beta, d_cutoff_hz : float
        One Euro parameters (Hz, Hz per rad/s, Hz).
    min_confidence : float
        Samples below it do not count as tracked, [0, 1].
    lost_after_s : float
        Tracking is lost when no confident sample is newer than this, s.
    ease_s : float
        Time to ease to rest when lost, and back when found, s.
    """

    min_cutoff_hz: float = 1.0
    beta: float = 0.4
    d_cutoff_hz: float = 1.0
    min_confidence: float = 0.5
    lost_after_s: float = 0.25
    ease_s: float = 0.5

    def __post_init__(self) -> None:
        for name in ("min_cutoff_hz", "d_cutoff_hz", "lost_after_s", "ease_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}: {getattr(self, name)!r} must be > 0")
        if not self.beta >= 0:
            raise ConfigError(f"beta: {self.beta!r} must be >= 0")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigError(f"min_confidence: {self.min_confidence!r} is outside [0, 1]")


@dataclass(frozen=True)
class TrackingEvent:
    """Something the session records as a marker: ``"<kind> <detail>"`` at ``t_s``.

    ``kind`` is "tracking_found", "tracking_lost" or "neutral_offsets".
    """

    t_s: float
    kind: str
    detail: str

    @property
    def marker(self) -> str:
        return f"{self.kind} {self.detail}".strip()


@dataclass
class TrackingGap:
    """A stretch without tracking: ``start_s`` to ``end_s`` (None: still lost), and why."""

    start_s: float
    end_s: float | None
    reason: str


@dataclass(frozen=True)
class TrackedFrame:
    """What the driver shows at one time.

    Attributes
    ----------
    pose : Pose
        The intact limb (conditioned, eased towards rest while tracking is lost).
    sample_s : float or None
        Capture time of the newest tracker sample the pose is built from, s (None: none).
    processing_s : float
        The tracker's capture-to-publish time of that sample, s.
    received_s : float or None
        When mirrorvr received that sample, s.
    confidence : float
    tracking : bool
        True when tracking was in force at that time (not lost, not waiting).
    weight : float
        0..1: how much of the tracked pose is shown (1) versus rest (0).
    """

    pose: Pose
    sample_s: float | None
    processing_s: float
    received_s: float | None
    confidence: float
    tracking: bool
    weight: float

    def record_row(self, photon_s: float) -> list[float]:
        """The row of :data:`FRAME_CHANNELS` for a frame reaching the eye at ``photon_s``."""
        nan = float("nan")
        return [nan if self.sample_s is None else self.sample_s, self.processing_s,
                nan if self.received_s is None else self.received_s, photon_s,
                self.confidence, 1.0 if self.tracking else 0.0]


def _smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


class MirrorDriver:
    """Source + neutral offsets + One Euro filter + limits + classifier + gap bookkeeping.

    Parameters
    ----------
    source : IntactLimbSource
    settings : DriverSettings, optional
    offsets : NeutralOffsets, optional
        From an earlier neutral step (same side and limb); none: zero.
    classifier : PoseClassifier, optional
        Default: the limb's movement classes.
    """

    def __init__(self, source, settings: DriverSettings | None = None,
                 offsets: NeutralOffsets | None = None,
                 classifier: PoseClassifier | None = None) -> None:
        self.source = source
        self.side, self.limb = source.side, source.limb
        self.settings = settings or DriverSettings()
        self.spec = limb_spec(self.limb)
        n = self.spec.n_dofs
        self.offsets = offsets or NeutralOffsets.zero(self.side, self.limb, source.name)
        self._check_offsets(self.offsets)
        self.classifier = classifier or PoseClassifier(self.limb)
        s = self.settings
        self.filter = OneEuroFilter(n, s.min_cutoff_hz, s.beta, s.d_cutoff_hz)
        self.rest = target_pose(REST, 0.0, self.side, self.limb)
        self._lock = threading.Lock()
        self._t: deque[float] = deque(maxlen=HISTORY)
        self._rows: deque[tuple[np.ndarray, float, float, float, str, float]] = deque(
            maxlen=HISTORY)
        # transitions of the shown weight: (t_s, direction +1/-1, weight at t_s)
        self._ease: list[tuple[float, int, float]] = []
        self._last_good_s: float | None = None
        self._low_confidence: float | None = None
        self._tracking = False
        self._reason = f"waiting for {source.name}"
        self.gaps: list[TrackingGap] = []
        self._neutral: NeutralPoseCalibration | None = None
        #: samples taken in and conditioned (any confidence); counts up after each step
        self.samples_done = 0
        self._last_arrival_lag_s: float | None = None

    @property
    def name(self) -> str:
        """What drives the limb (the source's name), for the recording."""
        return self.source.name

    # ------------------------------------------------------------------ control thread

    def start(self) -> None:
        """Start a stretch of tracking (a mirror block) from scratch: an earlier stretch's
        pose history, filter state and tracking state are let go, so the pause between two
        stretches is neither shown nor recorded as a tracking gap."""
        with self._lock:
            measured = self._measured_arrival_lag_locked()
            if measured is not None:
                self._last_arrival_lag_s = measured
            self._t.clear()
            self._rows.clear()
            self._ease.clear()
        self.filter.reset()
        self.classifier.reset()
        self._last_good_s = self._low_confidence = None
        self._tracking = False
        self._reason = f"waiting for {self.source.name}"
        self.source.start()

    def stop(self) -> None:
        self.source.stop()

    def set_offsets(self, offsets: NeutralOffsets) -> None:
        """Use ``offsets`` from now on (e.g. loaded from the patient's last session)."""
        self._check_offsets(offsets)
        self.offsets = offsets

    def begin_neutral(self) -> None:
        """Start the neutral step: raw confident readings are collected until
        :meth:`finish_neutral`."""
        self._neutral = NeutralPoseCalibration(self.side, self.limb)

    def finish_neutral(self, now_s: float) -> tuple[NeutralOffsets, TrackingEvent]:
        """End the neutral step; the offsets apply from the next sample on.

        Raises :class:`ConfigError` (nothing changes) when the limb moved or was not seen.
        """
        if self._neutral is None:
            raise ConfigError("finish_neutral: begin_neutral was not called")
        calibration, self._neutral = self._neutral, None
        offsets = calibration.result(self.name)
        self.offsets = offsets
        self.filter.reset()
        detail = " ".join(f"{k}={v:.4f}" for k, v in offsets.to_dict()["offsets_rad"].items())
        return offsets, TrackingEvent(now_s, "neutral_offsets", f"source={self.name} {detail}")

    def step(self, now_s: float) -> list[TrackingEvent]:
        """Read the source, condition new samples, update the tracking state.

        Returns the events to record (tracking lost / found), usually none.
        """
        samples = self.source.read(now_s)
        s = self.settings
        for sample in samples:
            if sample.angles.shape != (self.spec.n_dofs,):
                raise ConfigError(
                    f"{self.name}: sample of {sample.angles.shape[0]} angles, the {self.limb} "
                    f"limb has {self.spec.n_dofs}")
            if sample.confidence < s.min_confidence:
                self._low_confidence = sample.confidence
                continue
            self._low_confidence = None
            self._condition(sample, now_s)
        events = self._update_state(now_s)
        self.samples_done += len(samples)  # after the history and state have them
        return events

    def _condition(self, sample, now_s: float) -> None:
        if self._neutral is not None:
            self._neutral.add(sample.angles)
        if (self._last_good_s is not None
                and sample.t_s - self._last_good_s > self.settings.lost_after_s):
            self.filter.reset()  # a gap is not a fast movement
        angles = self.filter(sample.t_s, self.offsets.apply(sample.angles))
        angles = np.where(np.isfinite(angles), angles, self.rest.angles)
        angles = np.clip(angles, self.spec.lower_rad, self.spec.upper_rad)
        if sample.movement is not None:
            movement, level = sample.movement, float(sample.level)
        else:
            movement, level = self.classifier.classify(angles)
        received = now_s if sample.received_s is None else sample.received_s
        with self._lock:
            if self._t and sample.t_s <= self._t[-1]:
                return  # out of order: the history only moves forward
            self._t.append(sample.t_s)
            self._rows.append((angles, sample.confidence, received, sample.processing_s,
                               movement, level))
        self._last_good_s = sample.t_s

    def _update_state(self, now_s: float) -> list[TrackingEvent]:
        problem = self.source.problem
        if problem:
            tracking, reason = False, problem
        elif self._last_good_s is None:
            tracking = False
            reason = (f"low confidence from {self.name} ({self._low_confidence:.2f} < "
                      f"{self.settings.min_confidence:.2f})" if self._low_confidence is not None
                      else f"waiting for {self.name}")
        elif now_s - self._last_good_s > self.settings.lost_after_s:
            tracking = False
            age_ms = 1000 * (now_s - self._last_good_s)
            reason = (f"low confidence from {self.name} ({self._low_confidence:.2f} < "
                      f"{self.settings.min_confidence:.2f})" if self._low_confidence is not None
                      else f"no pose from {self.name} for {age_ms:.0f} ms")
        else:
            tracking, reason = True, ""
        events = []
        if tracking != self._tracking:
            with self._lock:
                w = self._weight_locked(now_s)
                self._ease.append((now_s, 1 if tracking else -1, w))
            if tracking:
                gap = self.gaps[-1] if self.gaps and self.gaps[-1].end_s is None else None
                detail = f"source={self.name}"
                if gap is not None:
                    gap.end_s = now_s
                    detail += f" gap_s={now_s - gap.start_s:.3f}"
                events.append(TrackingEvent(now_s, "tracking_found", detail))
                log.info("tracking found (%s)", self.name)
            else:
                self.gaps.append(TrackingGap(now_s, None, reason))
                self.filter.reset()
                self.classifier.reset()
                events.append(TrackingEvent(now_s, "tracking_lost",
                                            f"source={self.name} reason={reason}"))
                log.warning("tracking lost (%s): %s", self.name, reason)
            self._tracking = tracking
        self._reason = reason
        return events

    # ------------------------------------------------------------------ any thread

    @property
    def tracking(self) -> bool:
        """True while confident samples keep arriving."""
        return self._tracking

    @property
    def hud_text(self) -> str:
        """One line for the HUD while the tracker is not tracking, "" while it is."""
        if self._tracking:
            return ""
        return f"Tracking lost: {self._reason} - limb easing to rest"

    def stimulation_allowed(self, t_s: float) -> bool:
        """Mirror-mode stimulation may follow the pose at ``t_s``: tracked and fully eased in."""
        with self._lock:
            return self._weight_locked(t_s) >= 1.0 and self._tracking_at_locked(t_s)

    def _tracking_at_locked(self, t_s: float) -> bool:
        i = bisect.bisect_right([e[0] for e in self._ease], t_s)
        return i > 0 and self._ease[i - 1][1] > 0

    def _weight_locked(self, t_s: float) -> float:
        """0..1 share of the tracked pose shown at ``t_s`` (before smoothstep)."""
        i = len(self._ease)
        while i > 0 and self._ease[i - 1][0] > t_s:
            i -= 1
        if i == 0:
            return 0.0
        t0, direction, w0 = self._ease[i - 1]
        return min(1.0, max(0.0, w0 + direction * (t_s - t0) / self.settings.ease_s))

    def frame_at(self, t_s: float) -> TrackedFrame:
        """The intact limb to show for session time ``t_s`` (any thread).

        Between samples the pose is interpolated linearly; after the newest sample it is
        held (no prediction); while tracking is lost it eases to rest.
        """
        with self._lock:
            weight = _smoothstep(self._weight_locked(t_s))
            tracking = self._tracking_at_locked(t_s)
            if not self._t:
                return TrackedFrame(self.rest, None, 0.0, None, 0.0, False, 0.0)
            i = bisect.bisect_right(self._t, t_s)
            if i == 0:
                row, sample_s, angles = self._rows[0], self._t[0], self._rows[0][0]
            elif i == len(self._t):
                row, sample_s, angles = self._rows[-1], self._t[-1], self._rows[-1][0]
            else:
                t0, t1 = self._t[i - 1], self._t[i]
                a = (t_s - t0) / (t1 - t0)
                angles = self._rows[i - 1][0] + a * (self._rows[i][0] - self._rows[i - 1][0])
                row, sample_s = self._rows[i], t1
        shown = self.rest.angles + weight * (angles - self.rest.angles)
        shown = np.clip(shown, self.spec.lower_rad, self.spec.upper_rad)
        pose = Pose(self.side, shown, self.limb)
        return TrackedFrame(pose, sample_s, row[3], row[2], row[1], tracking, weight)

    def pose_at(self, t_s: float) -> Pose:
        """The intact limb's pose at ``t_s`` (see :meth:`frame_at`)."""
        return self.frame_at(t_s).pose

    def movement_at(self, t_s: float) -> tuple[str, float]:
        """Movement class and level at ``t_s`` for stimulation; ``("rest", 0)`` unless
        tracking is in force and fully eased in."""
        with self._lock:
            if not (self._tracking_at_locked(t_s) and self._weight_locked(t_s) >= 1.0):
                return REST, 0.0
            i = bisect.bisect_right(self._t, t_s)
            if i == 0:
                return REST, 0.0
            row = self._rows[i - 1]
        return row[4], row[5]

    def label_at(self, t_s: float) -> str:
        """The movement class at ``t_s`` (what :class:`MirrorController` plans onsets from)."""
        return self.movement_at(t_s)[0]

    def label_since(self, t_s: float, arrived_after_s: float | None = None
                    ) -> tuple[str, float | None]:
        """The movement class at ``t_s`` and the capture time of the first sample of its
        current run (the sample in which the tracker first saw it), s; ``("rest", None)``
        where :meth:`movement_at` says rest. A frame shows a sample captured at ``t`` at
        photon time ``t + D``, so an onset planned at that sample's time ``+ D`` meets the
        frame that first shows the movement.

        ``arrived_after_s``: the caller's previous look (s). Samples that had arrived by
        then and were not reported as this movement (tracking was easing in) do not date
        it; when none arrived since, it is dated by the newest sample.
        """
        label = self.label_at(t_s)
        if label == REST:
            return REST, None
        with self._lock:
            i = bisect.bisect_right(self._t, t_s) - 1

            def new(j: int) -> bool:
                return arrived_after_s is None or self._rows[j][2] > arrived_after_s

            if not new(i):
                return label, self._t[i]
            while i > 0 and self._rows[i - 1][4] == label and new(i - 1):
                i -= 1
            return label, self._t[i]

    @property
    def arrival_lag_s(self) -> float:
        """How long after its capture a sample arrives, s: the 90th percentile in this
        stretch, else in the previous one, else :data:`ASSUMED_ARRIVAL_LAG_S`. A stimulated
        onset spends this much of D before it is known."""
        with self._lock:
            measured = self._measured_arrival_lag_locked()
        if measured is not None:
            return measured
        return (ASSUMED_ARRIVAL_LAG_S if self._last_arrival_lag_s is None
                else self._last_arrival_lag_s)

    def _measured_arrival_lag_locked(self) -> float | None:
        """90th percentile of capture-to-arrival in this stretch, s (None: no sample)."""
        lags = [row[2] - t for t, row in zip(self._t, self._rows, strict=True)]
        return float(np.percentile(lags, 90)) if lags else None

    def _check_offsets(self, offsets: NeutralOffsets) -> None:
        if (offsets.side, offsets.limb) != (self.side, self.limb):
            raise ConfigError(
                f"offsets: for the {offsets.side} {offsets.limb} limb, the source tracks the "
                f"{self.side} {self.limb} limb")
