"""Intact-side EMG as a pose source (``"intact_emg"``).

Electrodes on the intact forearm or leg; a decoder calibrated on the intact side
(:mod:`mirrorvr.emg.decoder`) decides movement and level every window increment, and the
intact limb's pose is that movement at that level (:func:`~mirrorvr.limb.poses.target_pose`).
This is the condition of Yanagisawa et al. (Neurology 2020): a decoder built from
intact-hand movements drives the virtual hand. Every sample carries the decoder's movement
and level, so the driver does not classify the pose; the recording names the source.
"""

from __future__ import annotations

from mirrorvr.emg.calibration import cue_schedule, simulate_calibration, train_decoder
from mirrorvr.errors import ConfigError
from mirrorvr.limb.poses import target_pose
from mirrorvr.movements import REST, movement_limb
from mirrorvr.tracking.source import PoseSample, check_source_limb


class IntactEmgSource:
    """Decoded intact-side EMG -> intact-limb poses.

    Parameters
    ----------
    emg_source : EmgSource
        The intact side's electrodes (started and stopped with this source).
    decoder : Decoder
        Trained on the intact side, with this source's channel layout.
    side : str
        The intact side.
    """

    name = "intact_emg"
    problem = None

    def __init__(self, emg_source, decoder, side: str) -> None:
        active = [m for m in decoder.movements if m != REST]
        limb = movement_limb(active[0]) if active else "upper"
        self.side, self.limb, _ = check_source_limb(side, limb)
        if tuple(emg_source.channel_names) != tuple(decoder.channel_names):
            raise ConfigError(
                f"decoder: trained on channels {list(decoder.channel_names)}, the intact-side "
                f"EMG has {list(emg_source.channel_names)}")
        self.emg_source, self.decoder = emg_source, decoder

    def start(self) -> None:
        self.emg_source.start()

    def read(self, now_s: float) -> list[PoseSample]:
        chunk = self.emg_source.read()
        if chunk is None or not chunk.n_samples:
            return []
        out = []
        for intent in self.decoder.process(chunk):
            level = 0.0 if intent.movement == REST else intent.level
            pose = target_pose(intent.movement, level, self.side, self.limb)
            out.append(PoseSample(intent.t_s, pose.angles, 1.0, now_s,
                                  movement=intent.movement, level=level))
        return out

    def stop(self) -> None:
        self.emg_source.stop()


def calibrate_on_simulated_patient(patient, clock, settings, repetitions: int = 2,
                                   contract_s: float = 2.0, rest_s: float = 2.0):
    """Cue the simulated intact side through ``settings.movements`` and train its decoder.

    Returns the trained :class:`~mirrorvr.emg.decoder.Decoder` (a real patient's intact side
    is calibrated by the session's calibration block the same way).
    """
    cues = cue_schedule(settings.movements, repetitions, contract_s, rest_s)
    recording = simulate_calibration(patient, clock, cues)
    decoder, _report = train_decoder(recording, settings)
    return decoder
