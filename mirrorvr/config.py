"""Typed, validated configuration: patient profile, devices, EMG, stimulation, rendering, protocol.

Configuration comes in as TOML (``load_config``) or as the embedded defaults
(``default_config``); every bad value is reported as a :class:`~mirrorvr.errors.ConfigError`
naming the field, the value given and what is allowed. Units are in the field names.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from mirrorvr.errors import ConfigError
from mirrorvr.movements import (
    ALL_MOVEMENTS,
    DEMO_MOVEMENTS,
    movement_limb,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class _Model(BaseModel):
    # Non-finite numbers are refused everywhere (an infinite on-time or ramp would pass
    # "> 0" checks and fail minutes later); build_config validates strictly (no "no" -> False,
    # no "1.5" -> 1.5, no true -> 1).
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True,
                              allow_inf_nan=False)


class _Shared(_Model):
    """The fields every variant of a device section shares (every EMG source, every
    stimulator driver, every tracker). Only its variants are built: each names itself in the
    section's key (``emg.source``, ``stim.driver``, ``tracker.source``) and adds its own
    fields, so a field of another variant is refused, not silently ignored."""

    #: the section's key that names the variant: "source" or "driver"
    variant_key: ClassVar[str]

    def model_post_init(self, context: Any, /) -> None:
        # (not __init__ or a "before" validator: either makes pydantic validate files laxly)
        if "variant_key" in type(self).__dict__:
            names = ", ".join(c.__name__ for c in type(self).__subclasses__())
            raise TypeError(f"{type(self).__name__} holds the shared fields: build one of its "
                            f"variants ({names})")

    @classmethod
    def tag(cls) -> str:
        """The value of the variant key that picks this variant ("brainflow", ...)."""
        return cls.model_fields[cls.variant_key].default


def _variants(*models: type[_Shared]) -> Any:
    """A discriminated union of ``models`` on their variant key (:func:`build_config` gives a
    section without the key the simulated variant, the embedded default)."""
    return Annotated[Union[models], Field(discriminator=models[0].variant_key)]  # noqa: UP007


# --------------------------------------------------------------------------- stimulation

#: SAFETY.md item 6: never faster than this from zero to the motor threshold (and back), s.
MIN_SUBTHRESHOLD_RISE_S = 0.05


class DeviceLimits(_Model):
    """Hard limits of a stimulator model (SAFETY.md item 1). Not editable by a scene.

    Defaults follow IEC 60601-2-10 (<= 50 mA r.m.s. into 500 ohm) and typical NMES units.
    """

    model: str = "simulated"
    n_channels: int = Field(4, ge=1, le=64)
    max_amplitude_ma: float = Field(100.0, gt=0, le=200)
    min_pulse_width_us: float = Field(0.0, ge=0, le=1000)
    max_pulse_width_us: float = Field(500.0, gt=0, le=1000)
    min_frequency_hz: float = Field(1.0, gt=0)
    max_frequency_hz: float = Field(100.0, gt=0, le=1000)
    max_charge_per_phase_uc: float = Field(40.0, gt=0)
    max_rms_current_ma: float = Field(50.0, gt=0, le=50)
    max_on_time_s: float = Field(5.0, gt=0, le=60)
    min_ramp_s: float = Field(0.1, ge=0)

    @model_validator(mode="after")
    def _frequency_range(self) -> DeviceLimits:
        if self.min_pulse_width_us > self.max_pulse_width_us:
            raise ValueError(
                f"min_pulse_width_us: {self.min_pulse_width_us} must not exceed "
                f"max_pulse_width_us ({self.max_pulse_width_us})"
            )
        if self.min_frequency_hz >= self.max_frequency_hz:
            raise ValueError(
                f"min_frequency_hz: {self.min_frequency_hz} must be below "
                f"max_frequency_hz ({self.max_frequency_hz})"
            )
        return self


class StimChannelProfile(_Model):
    """Patient limits of one channel, found by titration (SAFETY.md item 2).

    A channel whose ``max_tolerated_ma`` is None cannot stimulate.
    """

    channel: int = Field(ge=0)
    site: str = Field(min_length=1, description="muscle group under the electrodes")
    electrode_area_cm2: float = Field(gt=0, le=200)
    sensory_threshold_ma: float | None = Field(None, gt=0)
    motor_threshold_ma: float | None = Field(None, gt=0)
    max_tolerated_ma: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> StimChannelProfile:
        levels = [
            ("sensory_threshold_ma", self.sensory_threshold_ma),
            ("motor_threshold_ma", self.motor_threshold_ma),
            ("max_tolerated_ma", self.max_tolerated_ma),
        ]
        known = [(n, v) for n, v in levels if v is not None]
        for (n1, v1), (n2, v2) in zip(known, known[1:], strict=False):
            if v1 > v2:
                raise ValueError(f"{n1}: {v1} must not exceed {n2} ({v2})")
        return self


class Screening(_Model):
    """Contraindications to stimulation (SAFETY.md item 10). Any True blocks arming."""

    pacemaker_or_implanted_device: bool = False
    epilepsy: bool = False
    pregnancy: bool = False
    open_wounds_at_sites: bool = False
    electrodes_across_chest: bool = False
    active_cancer_at_sites: bool = False

    def contraindications(self) -> list[str]:
        """Names of the contraindications that are present."""
        return [name for name, value in self.model_dump().items() if value]


class LimbMeasurements(_Model):
    """A patient's own segment lengths, m, to size the virtual limbs (any may be omitted).

    Ranges are plausible adult values; the renderer scales each segment along its length.
    """

    upper_arm_length_m: float | None = Field(None, ge=0.20, le=0.40)
    forearm_length_m: float | None = Field(None, ge=0.18, le=0.34)
    hand_length_m: float | None = Field(None, ge=0.14, le=0.24)
    thigh_length_m: float | None = Field(None, ge=0.32, le=0.56)
    shank_length_m: float | None = Field(None, ge=0.30, le=0.54)
    foot_length_m: float | None = Field(None, ge=0.20, le=0.32)
    girth_scale: float = Field(1.0, ge=0.7, le=1.5, description="segment thickness vs the model")


class PatientProfile(_Model):
    """A patient as mirrorvr sees them: pseudonymous id, limb, stimulation limits, screening.

    Nothing of a person has a default (SAFETY.md 12): the pseudonym, the amputated side and
    level must be given, a channel can stimulate only with its titrated limits, and
    stimulation cannot be armed until the screening has been recorded (``screening``
    None: not recorded).
    """

    pseudonym: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    amputated_side: Literal["left", "right"]
    amputation_level: Literal["transradial", "transhumeral", "transtibial", "transfemoral"]
    stim_channels: tuple[StimChannelProfile, ...] = ()
    screening: Screening | None = Field(
        None, description="contraindications as screened by the therapist; None: not recorded "
        "(stimulation cannot be armed)")
    measurements: LimbMeasurements = LimbMeasurements()
    skin_rgb: tuple[float, float, float] = Field(
        (0.87, 0.68, 0.56), description="skin tone of the virtual limbs, sRGB 0..1"
    )

    @model_validator(mode="after")
    def _one_profile_per_channel(self) -> PatientProfile:
        channels = [c.channel for c in self.stim_channels]
        twice = sorted({c for c in channels if channels.count(c) > 1})
        if twice:
            raise ValueError(
                f"stim_channels: channel {twice[0]} is described {channels.count(twice[0])} "
                "times (allowed: one [[patient.stim_channels]] table per channel)"
            )
        return self

    @property
    def intact_side(self) -> str:
        return "left" if self.amputated_side == "right" else "right"

    def stim_channel(self, channel: int) -> StimChannelProfile | None:
        for c in self.stim_channels:
            if c.channel == channel:
                return c
        return None


class StimSettings(_Shared):
    """How the session stimulates, whichever the stimulator: pulse train shape,
    movement-to-channel map, latencies, the device's hard limits. The session's is one
    driver's model (``stim.driver``): :class:`SimulatedStimSettings`,
    :class:`OpenEmsStimSettings` or :class:`RehaStim2Settings`."""

    variant_key: ClassVar[str] = "driver"
    driver: str = Field(description="simulated, openemsstim or rehastim2")
    enabled: bool = True
    device: DeviceLimits = DeviceLimits()
    pulse_width_us: float = Field(300.0, gt=0)
    frequency_hz: float = Field(35.0, gt=0)
    ramp_up_s: float = Field(0.5, gt=0, description="the comfort ramp above the motor "
                             "threshold, s (every train rises and falls, SAFETY.md item 6)")
    ramp_down_s: float = Field(0.5, gt=0, description="the fall, s")
    on_time_s: float = Field(1.5, gt=0)
    fast_rise_below_motor_threshold: bool = Field(
        True,
        description="two-slope envelope (SAFETY.md item 6): 0 -> the channel's motor "
        "threshold in subthreshold_rise_s, then the comfort ramp (ramp_up_s) to the "
        "amplitude; the fall in reverse. Off: the plain comfort ramp from 0, and reactive "
        "movements are shown that much later (the summary says how much)",
    )
    subthreshold_rise_s: float = Field(
        MIN_SUBTHRESHOLD_RISE_S, ge=MIN_SUBTHRESHOLD_RISE_S, le=1.0,
        description="two-slope envelope: 0 -> motor threshold (and back), s; never below "
        "50 ms",
    )
    blank_emg: bool = Field(
        True,
        description="blank the decoder's EMG around every EMS pulse (also the calibration "
        "EMG it is trained on, when a calibration block stimulates); off only for comparisons",
    )
    intensity_fraction: float = Field(
        0.5,
        ge=0,
        le=1,
        description="amplitude between motor threshold (0) and max tolerated (1)",
    )
    movement_channels: dict[str, tuple[int, ...]] | None = Field(
        None, description="the channels that accompany each movement; None: the patient's "
        "limb's default (mirrorvr.stim.prescription.default_movement_channels)")
    transport_latency_s: float = Field(0.004, ge=0, le=1)
    transport_jitter_s: float = Field(0.001, ge=0, le=0.1)
    device_latency_s: float = Field(0.002, ge=0, le=1)
    electromechanical_delay_s: float = Field(0.017, ge=0, le=0.2)  # REFERENCES.md: ~17 ms evoked
    watchdog_timeout_s: float = Field(0.1, gt=0, le=5)
    late_tolerance_s: float = Field(
        0.005, ge=0, le=0.05,
        description="a train this late is still sent; later ones are refused as late",
    )
    refractory_s: float = Field(2.0, ge=0, description="minimum gap between trains of a channel")
    onset_windows: int = Field(
        2, ge=1, le=10, description="where a decoded onset stimulates, this many sure decoder "
        "windows in a row make it (emg.onset_confidence): a wrong onset would stimulate the "
        "wrong muscles, so one window more than without stimulation (+25 ms by default)")

    @model_validator(mode="after")
    def _movements_known(self) -> StimSettings:
        if self.fast_rise_below_motor_threshold:
            envelope_s = self.ramp_up_s + self.ramp_down_s + 2 * self.subthreshold_rise_s
            if envelope_s > self.on_time_s + 1e-9:
                raise ValueError(
                    f"on_time_s: {self.on_time_s} is shorter than the two-slope envelope "
                    f"(ramp_up_s + ramp_down_s + 2 x subthreshold_rise_s = {envelope_s:g} s)"
                )
        for movement in self.movement_channels or {}:
            if movement not in ALL_MOVEMENTS or movement == "rest":
                raise ValueError(
                    f"movement_channels: {movement!r} is not a movement class "
                    f"(allowed: {list(ALL_MOVEMENTS[1:])})"
                )
        return self


class SimulatedStimSettings(StimSettings):
    """The simulated stimulator: a twin with the stimulation path's latencies, no hardware."""

    driver: Literal["simulated"] = "simulated"


class OpenEmsStimSettings(StimSettings):
    """An openEMSstim board behind a certified EMS unit (:mod:`mirrorvr.stim.openemsstim`)."""

    driver: Literal["openemsstim"] = "openemsstim"
    serial_port: str = Field("", description="pyserial URL or device, e.g. /dev/ttyUSB0")
    full_scale_ma: float | None = Field(
        None, gt=0, le=200, description="the unit's output at 100 % intensity, mA, measured "
        "at set-up")

    @model_validator(mode="after")
    def _connected(self) -> OpenEmsStimSettings:
        if not self.serial_port or self.full_scale_ma is None:
            raise ValueError(
                f"driver: 'openemsstim' needs serial_port (given {self.serial_port!r}) and "
                f"full_scale_ma (given {self.full_scale_ma!r}): the port the board is on and "
                "the certified unit's output at 100 % intensity, measured at set-up"
            )
        return self


class RehaStim2Settings(StimSettings):
    """A HASOMED RehaStim 2 in ScienceMode 2 (:mod:`mirrorvr.stim.rehastim`)."""

    driver: Literal["rehastim2"] = "rehastim2"
    serial_port: str = Field("", description="the serial device, e.g. /dev/ttyUSB0 or COM3")

    @model_validator(mode="after")
    def _connected(self) -> RehaStim2Settings:
        if not self.serial_port:
            raise ValueError(
                "serial_port: driver 'rehastim2' needs the port the RehaStim 2 is on, e.g. "
                "/dev/ttyUSB0 or COM3 (given '')"
            )
        return self


#: ``[stim]``: one driver's settings, picked by ``stim.driver`` (default "simulated").
STIM_DRIVERS = (SimulatedStimSettings, OpenEmsStimSettings, RehaStim2Settings)
StimDriverSettings = _variants(*STIM_DRIVERS)


# --------------------------------------------------------------------------- EMG


class EmgSettings(_Shared):
    """Acquisition and decoder settings every EMG source shares; the session's is one
    source's model (``emg.source``): :class:`SimulatedEmgSettings`,
    :class:`BrainFlowEmgSettings` or :class:`PlaybackEmgSettings`.

    150 ms windows every 25 ms, a vote of 5 and sure onsets passed at once: 98.7 %
    cross-validated on the simulated patient (BioPatRec's 200 / 50 ms: 98.8 %), first decision
    ~70 ms after the EMG onset instead of ~180 ms (``benchmarks/bench_emg_latency.py``)."""

    variant_key: ClassVar[str] = "source"
    source: str = Field(description="simulated, brainflow or playback")
    n_channels: int = Field(8, ge=1, le=64)
    sampling_rate_hz: float = Field(2000.0, ge=100, le=20000)
    mains_hz: Literal[50, 60] = 50
    bandpass_hz: tuple[float, float] = (20.0, 450.0)
    window_s: float = Field(0.15, gt=0, le=2)
    increment_s: float = Field(0.025, gt=0, le=1)
    features: tuple[str, ...] = ("MAV", "WL", "ZC", "SSC")
    log_amplitude: bool = Field(
        True, description="classify on the logarithm of the amplitude features (MAV, WL, RMS, "
        "VAR): contraction strength shifts them instead of scaling them, which LDA models "
        "better",
    )
    classifier: str = Field(
        "lda", description="lda, qda, svm, knn, lr, rf, mlp or sklearn.<module>.<Class>"
    )
    majority_vote: int = Field(5, ge=1, le=15)
    onset_confidence: float = Field(
        0.95, gt=0, le=1.01, description="at rest, onset_windows windows in a row decided as "
        "the same movement with at least this probability are an onset at once (the vote "
        "confirms what follows); above 1: every onset waits for the vote")
    onset_windows: int = Field(
        1, ge=1, le=10, description="sure windows in a row that make an onset in blocks "
        "without stimulation (stim.onset_windows where the onset stimulates)")
    onset_step_s: float = Field(
        0.005, gt=0, le=1, description="while the output is rest, a window ending every "
        "onset_step_s (rounded down to a whole fraction of increment_s; at most increment_s) "
        "is checked for a sure onset, so an onset does not wait for the next increment; the "
        "decisions stay every increment_s. Blocks whose onsets stimulate check at the "
        "increments only")
    rejection_threshold: float = Field(
        0.0, ge=0, le=1, description="decisions below this confidence become rest (0: off)"
    )
    level_map: Literal["linear", "quadratic", "logistic"] = "linear"
    movements: tuple[str, ...] = DEMO_MOVEMENTS
    silence_s: float = Field(
        0.5, ge=0.05, le=10, description="no EMG sample for this long: the stream counts as "
        "stopped (a gap is recorded, the therapist told, reactive stimulation stops), s")

    def describe(self) -> str:
        """The source in a few words, for messages ("board CYTON_BOARD", "file a.xdf")."""
        raise NotImplementedError

    @model_validator(mode="after")
    def _check(self) -> EmgSettings:
        if self.increment_s > self.window_s:
            raise ValueError(
                f"increment_s: {self.increment_s} must not exceed window_s ({self.window_s})"
            )
        low, high = self.bandpass_hz
        if not 0 < low < high:
            raise ValueError(
                f"bandpass_hz: {self.bandpass_hz!r} must be (low, high) with 0 < low < high"
            )
        from mirrorvr.emg.classifier import check_classifier_name
        from mirrorvr.emg.features import check_feature_names
        from mirrorvr.emg.filters import MAX_EDGE_FRACTION

        check_feature_names(self.features)
        check_classifier_name(self.classifier, "classifier")
        nyquist = self.sampling_rate_hz / 2
        if high > MAX_EDGE_FRACTION * self.sampling_rate_hz:
            field = "bandpass_hz" if "bandpass_hz" in self.model_fields_set else "sampling_rate_hz"
            raise ValueError(
                f"{field}: the band-pass high edge {high:g} Hz does not fit a sampling rate of "
                f"{self.sampling_rate_hz:g} Hz (allowed: high edge <= {MAX_EDGE_FRACTION:g} x "
                f"the sampling rate = {MAX_EDGE_FRACTION * self.sampling_rate_hz:g} Hz; Nyquist "
                f"is {nyquist:g} Hz): lower bandpass_hz or raise sampling_rate_hz"
            )
        if not self.mains_hz < nyquist:
            raise ValueError(
                f"sampling_rate_hz: {self.sampling_rate_hz:g} Hz cannot carry the "
                f"{self.mains_hz} Hz mains notch (allowed: above {2 * self.mains_hz} Hz)"
            )
        if len(set(self.movements)) != len(self.movements):
            raise ValueError(f"movements: {list(self.movements)!r} names a class twice")
        for m in self.movements:
            if m not in ALL_MOVEMENTS:
                raise ValueError(
                    f"movements: {m!r} is not a movement class "
                    f"(allowed: {list(ALL_MOVEMENTS)})"
                )
        limbs = {movement_limb(m) for m in self.movements if m != "rest"}
        if len(limbs) > 1:
            raise ValueError(
                f"movements: {list(self.movements)!r} mix upper- and lower-limb classes "
                "(allowed: classes of one limb, see mirrorvr.movements)"
            )
        if "rest" not in self.movements:
            raise ValueError("movements: 'rest' must be one of the decoded classes")
        if len(self.movements) < 2:
            raise ValueError(
                f"movements: {list(self.movements)!r} has nothing to decode (allowed: 'rest' "
                "and at least one movement class, e.g. ['rest', 'hand_open', 'hand_close'])"
            )
        return self


class SimulatedEmgSettings(EmgSettings):
    """The simulated patient's residual muscles (:mod:`mirrorvr.emg.simulator`)."""

    source: Literal["simulated"] = "simulated"

    def describe(self) -> str:
        return "simulated"


class BrainFlowEmgSettings(EmgSettings):
    """Any BrainFlow board (:mod:`mirrorvr.emg.brainflow_source`); ``n_channels`` and
    ``sampling_rate_hz`` must be what the board streams."""

    source: Literal["brainflow"] = "brainflow"
    board: str = Field("SYNTHETIC_BOARD", description="BrainFlow board name or id")
    serial_port: str = ""
    board_params: dict[str, str | int | float] = Field(
        default_factory=dict,
        description="other BrainFlowInputParams fields: ip_address, ip_port, mac_address, "
        "serial_number, file, master_board, timeout, other_info, ...",
    )
    reconnect_attempts: int = Field(5, ge=0, le=100, description="re-opens of a lost board")
    reconnect_backoff_s: float = Field(0.5, ge=0, le=60, description="first wait; doubles")

    def describe(self) -> str:
        return f"board {self.board}"


class PlaybackEmgSettings(EmgSettings):
    """A recording played back in real time (:class:`mirrorvr.emg.playback.PlaybackSource`)."""

    source: Literal["playback"] = "playback"
    playback_file: str = Field(
        "", description="a mirrorvr recording (.xdf) or a BrainFlow file "
        "(DataFilter.write_file; `board` names the board that recorded it)",
    )
    board: str = Field("SYNTHETIC_BOARD", description="the BrainFlow board that recorded a "
                       "BrainFlow file (name or id)")

    def describe(self) -> str:
        return f"file {self.playback_file}"

    @model_validator(mode="after")
    def _has_file(self) -> PlaybackEmgSettings:
        if not self.playback_file:
            raise ValueError("playback_file: source 'playback' needs one (an .xdf recording "
                             "or a BrainFlow file)")
        return self


#: ``[emg]`` (and ``[tracker.emg]``): one source's settings, picked by ``source``.
EMG_SOURCES = (SimulatedEmgSettings, BrainFlowEmgSettings, PlaybackEmgSettings)
EmgSourceSettings = _variants(*EMG_SOURCES)


# --------------------------------------------------------------------------- rendering


class TrackerSettings(_Shared):
    """How the intact limb that mirror blocks reflect is conditioned, whichever its source
    (:mod:`mirrorvr.tracking`; README "Trackers"). The session's is one source's model
    (``tracker.source``): :class:`SimulatedTrackerSettings`, :class:`LslTrackerSettings`,
    :class:`WebcamTrackerSettings`, :class:`KeyboardTrackerSettings`,
    :class:`GamepadTrackerSettings`, :class:`ReplayTrackerSettings` or
    :class:`IntactEmgTrackerSettings`."""

    variant_key: ClassVar[str] = "source"
    source: str = Field(
        description="simulated: a scripted intact limb that does what the mirror cues say (the "
        "demo's and --simulate's); lsl: any pose stream in mirrorvr's format; webcam: the "
        "MediaPipe tracker process; keyboard / gamepad: played by hand; replay: the pose "
        "stream of a recording; intact_emg: electrodes on the intact limb and a decoder "
        "calibrated on them")
    min_cutoff_hz: float = Field(1.0, gt=0, le=30, description="One Euro filter: the cutoff "
                                 "at rest, Hz (less jitter, more lag)")
    beta: float = Field(0.4, ge=0, le=10, description="One Euro filter: how fast the cutoff "
                        "rises with speed (less lag when moving)")
    d_cutoff_hz: float = Field(1.0, gt=0, le=30)
    min_confidence: float = Field(0.5, ge=0, le=1, description="samples below it count as "
                                  "tracking lost")
    lost_after_s: float = Field(0.25, gt=0, le=5, description="no confident sample for this "
                                "long: tracking lost (the limb eases to rest)")
    ease_s: float = Field(0.5, gt=0, le=5, description="easing to rest and back, s")


class SimulatedTrackerSettings(TrackerSettings):
    """A scripted intact limb that does what the mirror cues say."""

    source: Literal["simulated"] = "simulated"


class LslTrackerSettings(TrackerSettings):
    """Any LSL pose stream in mirrorvr's format (README "LSL pose stream format")."""

    source: Literal["lsl"] = "lsl"
    stream_name: str = Field("", description="the stream's name ('': the first pose stream "
                             "for the intact side and limb)")


class WebcamTrackerSettings(TrackerSettings):
    """The MediaPipe tracker process on a camera or a video file."""

    source: Literal["webcam"] = "webcam"
    camera: str = Field("0", description="a camera index, a /dev/video device or a video file")
    model_complexity: Literal[0, 1] = Field(
        1, description="MediaPipe's model: 1 full (the known-answer errors in the README), 0 "
        "lite (about a third of the inference time, roughly twice the finger errors)")


class KeyboardTrackerSettings(TrackerSettings):
    """Movements and levels played on the keyboard."""

    source: Literal["keyboard"] = "keyboard"


class GamepadTrackerSettings(TrackerSettings):
    """Movements and levels played on a gamepad (pygame joystick)."""

    source: Literal["gamepad"] = "gamepad"


class ReplayTrackerSettings(TrackerSettings):
    """The pose stream of a mirrorvr recording, replayed."""

    source: Literal["replay"] = "replay"
    replay_file: str = Field("", description="a mirrorvr recording (.xdf)")

    @model_validator(mode="after")
    def _has_file(self) -> ReplayTrackerSettings:
        if not self.replay_file:
            raise ValueError("replay_file: source 'replay' needs a recording (.xdf)")
        return self


class IntactEmgTrackerSettings(TrackerSettings):
    """Electrodes on the intact limb and a decoder calibrated on them."""

    source: Literal["intact_emg"] = "intact_emg"
    emg: EmgSourceSettings = Field(
        default_factory=SimulatedEmgSettings, description="the intact side's electrodes and "
        "decoder, configured like [emg] ([tracker.emg]); its classes are the mirror blocks' "
        "movements")
    decoder_file: str = Field("", description="a decoder trained on these electrodes (.npz, "
                              "e.g. an earlier session's intact_decoder.npz while the "
                              "electrodes stayed in place); '': the first mirror block's first "
                              "cue cycles calibrate it")
    calibration_repetitions: int = Field(2, ge=2, le=10, description="cue cycles the "
                                         "calibration in the first mirror block takes")
    min_accuracy_for_stim: float = Field(
        0.8, ge=0.5, le=1, description="below this cross-validated accuracy the intact-side "
        "decoder's movements never trigger stimulation (SAFETY.md 14)")


#: ``[tracker]``: one source's settings, picked by ``tracker.source``.
TRACKER_SOURCES = (SimulatedTrackerSettings, LslTrackerSettings, WebcamTrackerSettings,
                   KeyboardTrackerSettings, GamepadTrackerSettings, ReplayTrackerSettings,
                   IntactEmgTrackerSettings)
TrackerSourceSettings = _variants(*TRACKER_SOURCES)


class RenderSettings(_Model):
    """Window and scene settings."""

    width: int = Field(1280, ge=64, le=7680)
    height: int = Field(720, ge=64, le=4320)
    headless: bool | None = Field(None, description="None: headless when there is no display")
    display_latency_s: float = Field(0.008, ge=0, le=0.2, description="swap to photons")
    max_fps: float = Field(60.0, gt=0, le=240)
    msaa_samples: Literal["auto", 0, 2, 4, 8] = Field(
        "auto", description="multisample anti-aliasing; auto: 4, or 0 on a software rasteriser"
    )
    saved_frames: int = Field(6, ge=0, le=100, description="frames saved as PNG per session")
    view: Literal["mono", "stereo_sbs", "mirror_box"] = Field(
        "mono", description="mono window, stereo side by side (SBS headsets) or mirror box"
    )
    timing_overlay: bool = Field(False, description="frame-timing overlay for the therapist")
    residual: Literal["identical", "distinct", "hidden"] = Field(
        "identical", description="how the residual limb and the virtual part are drawn"
    )
    record_video: bool = Field(False, description="record the session as MP4 (frames/)")
    render_scale: Literal["auto"] | float = Field(
        "auto", description="resolution of the 3D scene relative to the window, 0.25..1 "
        "(the HUD stays sharp); auto: chosen each frame to keep frame_budget_ms"
    )
    frame_budget_ms: float = Field(
        30.0, ge=5, le=90, description="time a frame may take to draw (draw call to "
        "finish) with render_scale = auto, ms; keep it well under the 100 ms render watchdog"
    )
    frames_on_input: bool = Field(
        True, description="a block that shows its input at once (a mirror block with "
        "D = 0) starts each frame when a new input sample arrives, instead of drawing "
        "continuously: a tracker sample reaches the eye one draw later, and the CPU that "
        "frames showing nothing new would take is left to the tracker"
    )

    @model_validator(mode="after")
    def _render_scale_range(self) -> RenderSettings:
        if self.render_scale != "auto" and not 0.25 <= self.render_scale <= 1.0:
            raise ValueError(
                "render_scale: the scale of the 3D scene must be 'auto' or within 0.25..1"
            )
        return self


# --------------------------------------------------------------------------- protocol


#: Settings that protocol files now hold, and where (the old [protocol] table's fields).
_MOVED_TO_PROTOCOL_FILES = {
    "calibration_fraction": "calibration", "phantom_fraction": "phantom",
    "mirror_fraction": "mirror", "calibration_repetitions": "calibration (repetitions)",
    "contraction_fraction": "calibration (contraction_s, rest_s)",
    "keep_fraction": "calibration", "calibration_ramps": "calibration (ramps)",
    "ramp_s": "calibration", "min_decoder_accuracy": "calibration (min_accuracy_for_stim)",
    "motion_test": "motion_test", "tac_test": "tac_test",
}


class ProtocolSettings(_Model):
    """Which protocol a session plays and how long; the blocks themselves are protocol files
    (:mod:`mirrorvr.session.protocol`, ``mirrorvr protocols``)."""

    name: str = Field("demo", min_length=1, description="a built-in protocol or a .toml file")
    duration_s: float | None = Field(
        None, gt=0, le=4 * 3600, description="shrink (or stretch) the protocol to a rehearsal "
        "of this length, s; None: the protocol's own length")
    presentation_delay_s: float = Field(
        0.0, ge=0, le=0.5, description="least D: reactive onsets are placed at detection + D "
        "(blocks that stimulate wait at least the stimulation path; 0: the next frame)"
    )


class RecordSettings(_Model):
    """What a session publishes besides its recording file."""

    lsl: bool = Field(
        False, description="also publish every recorded stream live on Lab Streaming Layer "
        "(same names, types, channel labels and units as in the XDF)",
    )
    lsl_wait_for_consumers_s: float = Field(
        0.0, ge=0, le=60, description="wait up to this long for a lab recorder to connect to "
        "each stream before its first samples are published (queued meanwhile; the session "
        "never waits), s",
    )


class SessionConfig(_Model):
    """Everything a session needs, resolved. Written into every session folder."""

    seed: int = Field(0, ge=0, le=2**32 - 1, description="seed of the simulated patient and "
                      "devices")
    patient: PatientProfile | None = Field(
        None, description="the patient's own profile (SAFETY.md 12: nothing of a person is a "
        "default); None: no profile was given")
    emg: EmgSourceSettings = Field(default_factory=SimulatedEmgSettings)
    stim: StimDriverSettings = Field(default_factory=SimulatedStimSettings)
    tracker: TrackerSourceSettings = Field(default_factory=SimulatedTrackerSettings)
    render: RenderSettings = RenderSettings()
    protocol: ProtocolSettings = ProtocolSettings()
    record: RecordSettings = RecordSettings()

    @model_validator(mode="after")
    def _stim_channels_exist(self) -> SessionConfig:
        # the render loop beats the watchdog once a frame (SAFETY.md 7): frames must come
        # well inside its timeout or every frame would stop stimulation
        least_fps = 2.0 / self.stim.watchdog_timeout_s
        if self.render.max_fps < least_fps:
            raise ValueError(
                f"render.max_fps: {self.render.max_fps:g} frames/s leaves "
                f"{1000 / self.render.max_fps:.0f} ms between frames and the render watchdog "
                f"stops stimulation after {1000 * self.stim.watchdog_timeout_s:.0f} ms without "
                f"one (allowed: max_fps >= 2 / stim.watchdog_timeout_s = {least_fps:g})")
        device = self.stim.device
        n = device.n_channels
        for movement, channels in (self.stim.movement_channels or {}).items():
            for ch in channels:
                if not 0 <= ch < n:
                    raise ValueError(
                        f"stim.movement_channels[{movement!r}]: channel {ch} does not exist "
                        f"on device {device.model!r} (allowed 0..{n - 1})"
                    )
        # SAFETY.md 2: patient limits can only be lower than the device's hard limits
        for k, c in enumerate(self.patient.stim_channels if self.patient else ()):
            if not c.channel < n:
                raise ValueError(
                    f"patient.stim_channels[{k}].channel: {c.channel} does not exist on device "
                    f"{device.model!r} (allowed 0..{n - 1})")
            for name in ("sensory_threshold_ma", "motor_threshold_ma", "max_tolerated_ma"):
                value = getattr(c, name)
                if value is not None and value > device.max_amplitude_ma:
                    raise ValueError(
                        f"patient.stim_channels[{k}].{name}: {value} mA is above the device's "
                        f"hard limit (allowed <= stim.device.max_amplitude_ma = "
                        f"{device.max_amplitude_ma} mA)")
        return self


_NOT_GIVEN = "(not given)"


#: The device sections (a field of this name holds one of these variants).
_VARIANTS: dict[str, tuple[type[_Shared], ...]] = {
    "stim": STIM_DRIVERS, "emg": EMG_SOURCES, "tracker": TRACKER_SOURCES}


def _key(section: str) -> str:
    """The key of device table ``section`` that names its variant ("driver", "source")."""
    return _VARIANTS[section][0].variant_key


def variant_of(section: str, tag: str) -> type[_Shared]:
    """The model of device section ``section`` ("emg", "stim", "tracker") whose variant key
    is ``tag`` (e.g. ``variant_of("stim", "openemsstim")``); KeyError if none."""
    for model in _VARIANTS[section]:
        if model.tag() == tag:
            return model
    raise KeyError(f"{section}: no variant {tag!r}")


def as_variant(section: str, fields: dict, tag: str) -> dict:
    """``fields`` of a ``[section]`` table turned into variant ``tag``: the fields every
    variant shares are kept, the old variant's own are dropped (--simulate turns a board's
    ``[emg]`` into the simulated patient's)."""
    model = variant_of(section, tag)
    return {**{k: v for k, v in fields.items() if k in model.model_fields},
            model.variant_key: tag}


def variant_from(section: str, fields: dict) -> _Shared:
    """The variant model of ``[section]`` that ``fields`` name, built from the fields it has:
    a mapping saved by an earlier version held every variant's fields (a decoder's saved
    settings), those of the other variants are dropped. Raises pydantic's ValidationError."""
    tag = fields.get(_key(section), "simulated")
    return variant_of(section, tag)(**as_variant(section, fields, tag))


def _unvariant(loc: list[str]) -> tuple[list[str], tuple[str, str, type[_Shared]] | None]:
    """``loc`` without the union tags pydantic puts after a device section
    (``stim.openemsstim.serial_port`` -> ``stim.serial_port``), and the innermost section
    found: (its path, its variant key's value, its model)."""
    out: list[str] = []
    found = None
    for part in loc:
        section = out[-1] if out else None
        if section in _VARIANTS and part in {m.tag() for m in _VARIANTS[section]}:
            found = (list(out), part, variant_of(section, part))
            continue
        out.append(part)
    return out, found


def _variant_message(e: dict, loc: list[str], found) -> tuple[list[str], Any, str] | None:
    """The message of an error that is about which variant a device section is, or None."""
    if e["type"] == "union_tag_invalid":
        section = loc[-1]
        key = _key(section)
        *others, last = (repr(m.tag()) for m in _VARIANTS[section])
        tags = f"{', '.join(others)} or {last}"
        given = e["input"].get(key) if isinstance(e["input"], dict) else e["ctx"]["tag"]
        return [*loc, key], given, f"allowed: {tags}"
    # a field of the variant's own table (not of a table inside it, e.g. stim.device)
    if e["type"] == "extra_forbidden" and found is not None and loc[:-1] == found[0]:
        parts, tag, model = found
        path, section, name = ".".join(parts), parts[-1], loc[-1]
        owners = [m.tag() for m in _VARIANTS[section] if name in m.model_fields]
        where = (f"a setting of {model.variant_key} {' or '.join(map(repr, owners))}" if owners
                 else f"allowed: {', '.join(sorted(model.model_fields))}")
        return loc, e.get("input"), (f"not a setting of {path}.{model.variant_key} = {tag!r} "
                                     f"({where})")
    return None


def _format_validation_error(err: ValidationError, source: str) -> str:
    """One line per error: ``section.field = value: what is allowed``. A model-level check
    that names its field first ("bandpass_hz: ...") is reported under that field; a device
    section's field of another driver or source says whose it is."""
    lines = [f"invalid configuration in {source}:"]
    for e in err.errors():
        loc, found = _unvariant([str(p) for p in e["loc"]])
        given = _NOT_GIVEN if e["type"] == "missing" else e.get("input")
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "bool_type":  # strict: "no", "yes", 0 and 1 are not read as booleans
            msg += " (allowed: true or false, without quotes)"
        about_variant = _variant_message(e, loc, found)
        if about_variant is not None:
            loc, given, msg = about_variant
        named = re.match(r"([a-z_]\w*(?:\[[^\]]*\]|\.[a-z_]\w*)*): (.*)", msg, re.S)
        if named and isinstance(given, dict):
            loc.append(named[1])
            given = _lookup(given, named[1])
            msg = named[2]
        field = ".".join(loc) or "(top level)"
        lines.append(f"  {field} = {given!r}: {msg}")
    return "\n".join(lines)


def _lookup(data, path: str):
    """The value at ``path`` ("a.b[0].c", "m['x']") in nested ``data``, or "(not given)"."""
    node = data
    for part in re.finditer(r"[a-z_]\w*|\[([^\]]*)\]", path):
        key = part[1] if part[1] is not None else part[0]
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict) and key.strip("'\"") in node:
            node = node[key.strip("'\"")]
        else:
            return _NOT_GIVEN
    return node


def _json_scalar(value):
    """TOML dates and times have no JSON form: give them as text (refused as a wrong type)."""
    return str(value)


def _refuse_moved(data: dict, source: str) -> None:
    """Fields that moved elsewhere get a message saying where (not just "extra input")."""
    protocol = data.get("protocol")
    for key in protocol if isinstance(protocol, dict) else ():
        base = key.split("_test_")[0] + "_test" if "_test_" in key else key
        if base in _MOVED_TO_PROTOCOL_FILES:
            raise ConfigError(
                f"invalid configuration in {source}:\n  protocol.{key} = {protocol[key]!r}: "
                f"block settings live in protocol files now (a "
                f"{_MOVED_TO_PROTOCOL_FILES[base]} block); copy a built-in one with "
                "'mirrorvr protocols show demo' and give it as protocol.name")
    stim = data.get("stim")
    if isinstance(stim, dict) and "ramp_from_sensory_threshold" in stim:
        raise ConfigError(
            f"invalid configuration in {source}:\n  stim.ramp_from_sensory_threshold = "
            f"{stim['ramp_from_sensory_threshold']!r}: retired: starting a train at the sensory "
            "threshold is a step from zero (SAFETY.md item 6). Remove it; for a faster rise "
            "below the motor threshold set fast_rise_below_motor_threshold = true (0 -> motor "
            "threshold in subthreshold_rise_s >= 0.05 s, then the comfort ramp ramp_up_s)")
    if isinstance(stim, dict) and "stimulate_in_calibration" in stim:
        raise ConfigError(
            f"invalid configuration in {source}:\n  stim.stimulate_in_calibration = "
            f"{stim['stimulate_in_calibration']!r}: stimulation is set per block now: give "
            "the protocol's calibration block 'stimulation = true'")


def _with_variant_keys(data: dict) -> dict:
    """``data`` with "simulated" as the variant key of each device table that names none."""
    def keyed(table: Any, section: str) -> Any:
        key = _key(section)
        return {key: "simulated", **table} if isinstance(table, dict) else table

    out = {name: keyed(table, name) if name in _VARIANTS else table
           for name, table in data.items()}
    tracker = out.get("tracker")
    if isinstance(tracker, dict) and tracker.get("source") == "intact_emg" and "emg" in tracker:
        out["tracker"] = {**tracker, "emg": keyed(tracker["emg"], "emg")}
    return out


def build_config(data: dict, source: str = "<dict>") -> SessionConfig:
    """Validate a nested mapping into a :class:`SessionConfig`, raising :class:`ConfigError`.

    Validation is strict, as for a JSON document: a number is not read from a string, a
    boolean from "no" or 1, an integer from true; non-finite numbers are refused.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"invalid configuration in {source}: a table of sections is needed "
                          f"(given {type(data).__name__})")
    _refuse_moved(data, source)
    data = _with_variant_keys(data)
    try:
        document = json.dumps(data, default=_json_scalar)
    except ValueError as err:  # a circular structure: not from TOML
        raise ConfigError(f"invalid configuration in {source}: {err}") from None
    try:
        return SessionConfig.model_validate_json(document, strict=True)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, source)) from None


def default_config(**overrides) -> SessionConfig:
    """The embedded defaults (simulated devices), with top-level overrides."""
    return build_config(dict(overrides), "defaults")


def load_config(path: str | Path) -> SessionConfig:
    """Read a TOML file of :class:`SessionConfig` fields (missing ones take the defaults).

    Raises
    ------
    ConfigError
        If the file is missing, a folder, unreadable, not UTF-8 text, not TOML, or any value
        is not allowed (each named with its field).
    """
    path = Path(path)
    return build_config(read_toml(path, "config file"), str(path))


def read_toml(path: Path, what: str) -> dict:
    """The parsed TOML document at ``path``, or a ConfigError saying what is wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {str(path)!r} is a folder, not a TOML file") from None
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{what} {str(path)!r} is not UTF-8 text (byte {err.start}): give a TOML file"
        ) from None
    except OSError as err:
        raise ConfigError(f"{what} {str(path)!r} cannot be read: {err.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{what} {str(path)!r} is not valid TOML: {err}") from None


def config_to_toml_dict(config: SessionConfig) -> dict:
    """A JSON/TOML-safe nested dict of the resolved configuration."""
    return config.model_dump(mode="json")
