"""The recording's stream schema: every stream a session writes, and its channels.

README ("A session folder") documents these; readers (pyxdf, ``session_timing.py``) rely on
the names.
"""

from __future__ import annotations

from dataclasses import dataclass

from mirrorvr.limb.skeleton import limb_spec
from mirrorvr.outcomes.record import open_outcome_stream


@dataclass(frozen=True)
class SessionStreams:
    """Handles of the session's streams in its :class:`~mirrorvr.record.recorder.Recorder`."""

    emg: object
    intent: object
    pose_left: object
    pose_right: object
    frames: object
    stim: object
    ratings: object
    plan: object
    quality: object
    outcomes: object

    @classmethod
    def open(cls, recorder, source, limb: str) -> SessionStreams:
        """Add every stream to ``recorder`` for an EMG ``source`` and a ``limb``'s poses."""
        channels = list(source.channel_names)
        dofs = list(limb_spec(limb).dof_names)
        return cls(
            emg=recorder.add_stream("EMG", "EMG", channels, source.sampling_rate_hz, "float32",
                                    unit="volts"),
            intent=recorder.add_stream("decoder", "Intent",
                                       ["class_index", "level", "confidence"], 0.0, "float32"),
            pose_left=recorder.add_stream("pose_left", "Pose", dofs, 0.0, "float32", unit="rad"),
            pose_right=recorder.add_stream("pose_right", "Pose", dofs, 0.0, "float32",
                                           unit="rad"),
            frames=recorder.add_stream("frames", "FrameTiming",
                                       ["swap_s", "photon_s", "render_ms"], 0.0, "double64"),
            stim=recorder.add_stream("stimulation", "StimEvents", ["event"], 0.0, "string"),
            ratings=recorder.add_stream("ratings", "NRS", ["nrs"], 0.0, "float32"),
            plan=recorder.add_stream("movement_plan", "MovementPlan", ["entry"], 0.0, "string"),
            # per channel: OR of the problem bits (session.quality.PROBLEM_BITS), 0 = ok; the
            # bits are named in a 'signal_quality_bits' marker and the reasons in markers
            quality=recorder.add_stream("signal_quality", "SignalQuality", channels, 0.0,
                                        "int32"),
            # one JSON object per answered instrument (answers, scores, timepoint)
            outcomes=open_outcome_stream(recorder),
        )
