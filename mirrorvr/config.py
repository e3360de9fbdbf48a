"""Typed, validated configuration: patient profile, devices, EMG, stimulation, rendering, protocol.

Configuration comes in as TOML (``load_config``) or as the embedded defaults
(``default_config``); every bad value is reported as a :class:`~mirrorvr.errors.ConfigError`
naming the field, the value given and what is allowed. Units are in the field names.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mirrorvr.errors import ConfigError
from mirrorvr.movements import (
    ALL_MOVEMENTS,
    DEMO_MOVEMENTS,
    UPPER_LIMB_MOVEMENTS,
    movement_limb,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# --------------------------------------------------------------------------- stimulation


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
                f"min_pulse_width_us ({self.min_pulse_width_us}) must not exceed "
                f"max_pulse_width_us ({self.max_pulse_width_us})"
            )
        if self.min_frequency_hz >= self.max_frequency_hz:
            raise ValueError(
                f"min_frequency_hz ({self.min_frequency_hz}) must be below "
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
                raise ValueError(f"{n1} ({v1}) must not exceed {n2} ({v2})")
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
    """A patient as mirrorvr sees them: pseudonymous id, limb, stimulation limits, screening."""

    pseudonym: str = Field("sub-demo01", min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    amputated_side: Literal["left", "right"] = "right"
    amputation_level: Literal["transradial", "transhumeral", "transtibial", "transfemoral"] = (
        "transradial"
    )
    stim_channels: tuple[StimChannelProfile, ...] = ()
    screening: Screening = Screening()
    measurements: LimbMeasurements = LimbMeasurements()
    skin_rgb: tuple[float, float, float] = Field(
        (0.87, 0.68, 0.56), description="skin tone of the virtual limbs, sRGB 0..1"
    )

    @property
    def intact_side(self) -> str:
        return "left" if self.amputated_side == "right" else "right"

    def stim_channel(self, channel: int) -> StimChannelProfile | None:
        for c in self.stim_channels:
            if c.channel == channel:
                return c
        return None


class StimSettings(_Model):
    """How the session stimulates: pulse train shape, movement-to-channel map, latencies, driver."""

    enabled: bool = True
    driver: Literal["simulated", "openemsstim", "rehastim2"] = "simulated"
    serial_port: str = Field(
        "", description="openemsstim: pyserial URL or device; rehastim2: serial device"
    )
    full_scale_ma: float | None = Field(
        None, gt=0, le=200, description="openemsstim: the unit's output at 100 % intensity, mA"
    )
    device: DeviceLimits = DeviceLimits()
    pulse_width_us: float = Field(300.0, gt=0)
    frequency_hz: float = Field(35.0, gt=0)
    ramp_up_s: float = Field(0.5, ge=0)
    ramp_down_s: float = Field(0.5, ge=0)
    on_time_s: float = Field(1.5, gt=0)
    ramp_from_sensory_threshold: bool = Field(
        False,
        description="start each up-ramp at the channel's titrated sensory threshold, not 0",
    )
    stimulate_in_calibration: bool = Field(
        False,
        description="stimulate with the guided (cued) calibration movements; off by default "
        "because the evoked contractions would be in the EMG the decoder is trained on (the "
        "pulses' artefacts are blanked from it when blank_emg is on)",
    )
    blank_emg: bool = Field(
        True,
        description="blank the decoder's EMG around every EMS pulse (also the calibration "
        "EMG it is trained on, with stimulate_in_calibration); off only for comparisons",
    )
    intensity_fraction: float = Field(
        0.5,
        ge=0,
        le=1,
        description="amplitude between motor threshold (0) and max tolerated (1)",
    )
    movement_channels: dict[str, tuple[int, ...]] = Field(
        default_factory=lambda: {
            "hand_close": (0,),
            "wrist_flexion": (0,),
            "hand_open": (1,),
            "wrist_extension": (1,),
        }
    )
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

    @model_validator(mode="after")
    def _movements_known(self) -> StimSettings:
        if self.driver == "rehastim2" and not self.serial_port:
            raise ValueError(
                "driver 'rehastim2' needs serial_port (given ''): the port the RehaStim 2 is "
                "on, e.g. /dev/ttyUSB0 or COM3"
            )
        if self.driver == "openemsstim" and (not self.serial_port or self.full_scale_ma is None):
            raise ValueError(
                f"driver 'openemsstim' needs serial_port (given {self.serial_port!r}) and "
                f"full_scale_ma (given {self.full_scale_ma!r}): the port the board is on and "
                "the certified unit's output at 100 % intensity, measured at set-up"
            )
        for movement in self.movement_channels:
            if movement not in UPPER_LIMB_MOVEMENTS:
                raise ValueError(
                    f"movement_channels: {movement!r} is not a movement class "
                    f"(allowed: {list(UPPER_LIMB_MOVEMENTS)})"
                )
        return self


# --------------------------------------------------------------------------- EMG


class EmgSettings(_Model):
    """Acquisition and decoder settings. Defaults from BioPatRec (200 ms / 50 ms windows)."""

    source: Literal["simulated", "brainflow", "playback"] = "simulated"
    playback_file: str = Field(
        "", description="playback: a mirrorvr recording (.xdf) or a BrainFlow file "
        "(DataFilter.write_file; `board` names the board that recorded it)",
    )
    board: str = Field("SYNTHETIC_BOARD", description="BrainFlow board name or id")
    serial_port: str = ""
    board_params: dict[str, str | int | float] = Field(
        default_factory=dict,
        description="other BrainFlowInputParams fields: ip_address, ip_port, mac_address, "
        "serial_number, file, master_board, timeout, other_info, ...",
    )
    reconnect_attempts: int = Field(5, ge=0, le=100, description="re-opens of a lost board")
    reconnect_backoff_s: float = Field(0.5, ge=0, le=60, description="first wait; doubles")
    n_channels: int = Field(8, ge=1, le=64)
    sampling_rate_hz: float = Field(2000.0, ge=100, le=20000)
    mains_hz: Literal[50, 60] = 50
    bandpass_hz: tuple[float, float] = (20.0, 450.0)
    window_s: float = Field(0.2, gt=0, le=2)
    increment_s: float = Field(0.05, gt=0, le=1)
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
    rejection_threshold: float = Field(
        0.0, ge=0, le=1, description="decisions below this confidence become rest (0: off)"
    )
    level_map: Literal["linear", "quadratic", "logistic"] = "linear"
    movements: tuple[str, ...] = DEMO_MOVEMENTS

    @model_validator(mode="after")
    def _check(self) -> EmgSettings:
        if self.source == "playback" and not self.playback_file:
            raise ValueError("source 'playback' needs playback_file (an .xdf recording or a "
                             "BrainFlow file)")
        if self.increment_s > self.window_s:
            raise ValueError(
                f"increment_s ({self.increment_s}) must not exceed window_s ({self.window_s})"
            )
        low, high = self.bandpass_hz
        if not 0 < low < high:
            raise ValueError(
                f"bandpass_hz: {self.bandpass_hz!r} must be (low, high) with 0 < low < high"
            )
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
        return self


# --------------------------------------------------------------------------- rendering


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


# --------------------------------------------------------------------------- protocol


class ProtocolSettings(_Model):
    """The demo session: calibration, phantom (PME) and mirror blocks with ratings around them."""

    duration_s: float = Field(60.0, gt=0, le=4 * 3600)
    calibration_fraction: float = Field(0.5, gt=0, lt=1)
    phantom_fraction: float = Field(0.25, gt=0, lt=1)
    mirror_fraction: float = Field(0.25, gt=0, lt=1)
    calibration_repetitions: int = Field(2, ge=1, le=10)
    contraction_fraction: float = Field(
        0.6, gt=0, lt=1, description="share of each calibration cue spent contracting"
    )
    keep_fraction: float = Field(0.7, gt=0, le=1, description="middle share kept (BioPatRec cTp)")
    presentation_delay_s: float = Field(
        0.05, ge=0, le=0.5, description="D: reactive onsets are placed at detection + D"
    )
    calibration_ramps: bool = Field(
        False,
        description="after the cued contractions, one ramp per movement (rest -> the "
        "calibration level over ramp_s, then back) to scale the proportional level; off by "
        "default: the ramps take 4 x 2 ramp_s of the calibration block, which a 40 s demo "
        "does not have",
    )
    ramp_s: float = Field(2.0, gt=0, le=10, description="rise (and fall) time of each ramp, s")
    motion_test: bool = Field(
        False,
        description="a Motion Test block at the end (after the last rating, on top of "
        "duration_s): each movement cued motion_test_repetitions times, decoded live",
    )
    motion_test_repetitions: int = Field(1, ge=1, le=10)
    motion_test_timeout_s: float = Field(5.0, gt=0, le=30, description="per trial, s")
    motion_test_rest_s: float = Field(2.0, gt=0, le=30, description="rest before each trial, s")
    tac_test: bool = Field(
        False,
        description="a TAC test block at the end (after the motion test, if any; on top of "
        "duration_s): each movement cued tac_test_repetitions times; the decoded movement "
        "drives the limb towards a target posture shown as a ghost limb, to reach and hold",
    )
    tac_test_repetitions: int = Field(1, ge=1, le=10)
    # REFERENCES.md (TAC test): hold the target 1-2 s, time-out 15-20 s
    tac_test_timeout_s: float = Field(15.0, gt=0, le=60, description="per trial, s")
    tac_test_dwell_s: float = Field(
        1.0, gt=0, le=5, description="time the posture must stay within the allowance, s")
    tac_test_target_distance: float = Field(
        0.6, gt=0, le=1, description="the target's distance along the cued movement, in "
        "posture units (each degree of freedom spans -1..1, 1 = the full movement)")
    tac_test_allowance: float = Field(
        0.1, gt=0, lt=1, description="how close to the target every degree of freedom must "
        "be, posture units (< tac_test_target_distance)")
    tac_test_rest_s: float = Field(2.0, gt=0, le=30, description="rest before each trial, s")

    @model_validator(mode="after")
    def _fractions(self) -> ProtocolSettings:
        total = self.calibration_fraction + self.phantom_fraction + self.mirror_fraction
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                "calibration_fraction + phantom_fraction + mirror_fraction must be 1 "
                f"(got {total:.3f})"
            )
        if self.tac_test_allowance >= self.tac_test_target_distance:
            raise ValueError(
                f"tac_test_allowance ({self.tac_test_allowance}) must be smaller than "
                f"tac_test_target_distance ({self.tac_test_target_distance}): the posture "
                "would start inside the allowance"
            )
        if self.tac_test_dwell_s >= self.tac_test_timeout_s:
            raise ValueError(
                f"tac_test_dwell_s ({self.tac_test_dwell_s}) must be shorter than "
                f"tac_test_timeout_s ({self.tac_test_timeout_s}): no trial could complete"
            )
        return self


# --------------------------------------------------------------------------- recording


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


def _demo_patient() -> PatientProfile:
    return PatientProfile(
        stim_channels=(
            StimChannelProfile(
                channel=0,
                site="forearm flexors",
                electrode_area_cm2=20.0,
                sensory_threshold_ma=6.0,
                motor_threshold_ma=14.0,
                max_tolerated_ma=26.0,
            ),
            StimChannelProfile(
                channel=1,
                site="forearm extensors",
                electrode_area_cm2=20.0,
                sensory_threshold_ma=5.0,
                motor_threshold_ma=12.0,
                max_tolerated_ma=24.0,
            ),
        )
    )


class SessionConfig(_Model):
    """Everything a session needs, resolved. Written into every session folder."""

    seed: int = 0
    patient: PatientProfile = Field(default_factory=_demo_patient)
    emg: EmgSettings = EmgSettings()
    stim: StimSettings = StimSettings()
    render: RenderSettings = RenderSettings()
    protocol: ProtocolSettings = ProtocolSettings()
    record: RecordSettings = RecordSettings()

    @model_validator(mode="after")
    def _stim_channels_exist(self) -> SessionConfig:
        n = self.stim.device.n_channels
        for movement, channels in self.stim.movement_channels.items():
            for ch in channels:
                if not 0 <= ch < n:
                    raise ValueError(
                        f"stim.movement_channels[{movement!r}]: channel {ch} does not exist "
                        f"on device {self.stim.device.model!r} (allowed 0..{n - 1})"
                    )
        return self


def _format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"invalid configuration in {source}:"]
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "(top level)"
        given = e.get("input")
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"  {field} = {given!r}: {msg}")
    return "\n".join(lines)


def build_config(data: dict, source: str = "<dict>") -> SessionConfig:
    """Validate a nested mapping into a :class:`SessionConfig`, raising :class:`ConfigError`."""
    try:
        return SessionConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, source)) from None


def default_config(**overrides) -> SessionConfig:
    """The embedded defaults (demo patient, simulated devices), with top-level overrides."""
    return build_config(dict(overrides), "defaults")


def load_config(path: str | Path) -> SessionConfig:
    """Read a TOML file of :class:`SessionConfig` fields (missing ones take the defaults)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {err}") from None
    return build_config(data, str(path))


def config_to_toml_dict(config: SessionConfig) -> dict:
    """A JSON/TOML-safe nested dict of the resolved configuration."""
    return config.model_dump(mode="json")
