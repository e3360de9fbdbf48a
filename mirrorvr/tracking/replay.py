"""Replay of a mirrorvr recording's pose stream as a tracker (``"replay"``).

The ``pose_left`` / ``pose_right`` stream of a ``recording.xdf`` (pyxdf reads it) plays
again on the session clock: its first sample is delivered at the first :meth:`read`, the
rest at their original spacing. Channel labels select the DOFs (the limb follows from
them). At the end :attr:`ReplaySource.problem` says the replay ended (or it loops).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mirrorvr.errors import ConfigError, RecordingError
from mirrorvr.limb.skeleton import LIMBS, check_side, limb_spec
from mirrorvr.tracking.source import PoseSample


def _labels(stream: dict) -> list[str]:
    try:
        channels = stream["info"]["desc"][0]["channels"][0]["channel"]
        return [c["label"][0] for c in channels]
    except (KeyError, IndexError, TypeError):
        return []


class ReplaySource:
    """Plays a recorded pose stream.

    Parameters
    ----------
    path : str or Path
        A recording (.xdf).
    side : str
        The side whose pose to replay (stream ``pose_<side>``) unless ``stream`` is given.
    stream : str, optional
        The stream's name.
    loop : bool
        Start again after the last sample.
    """

    name = "replay"

    def __init__(self, path, side: str, stream: str | None = None, loop: bool = False) -> None:
        import pyxdf

        self.side = check_side(side)
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"replay file {str(path)!r} does not exist")
        try:
            streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
        except Exception as err:  # pyxdf raises many kinds on a damaged file
            raise RecordingError(f"replay file {str(path)!r} cannot be read: {err}") from err
        wanted = stream or f"pose_{side}"
        found = {s["info"]["name"][0]: s for s in streams}
        if wanted not in found:
            raise ConfigError(f"replay: {str(path)!r} has no stream {wanted!r} (streams: "
                              f"{sorted(found)})")
        s = found[wanted]
        labels = _labels(s)
        limbs = [lb for lb in LIMBS if labels and set(labels) <= set(limb_spec(lb).dof_names)]
        if not limbs:
            raise ConfigError(f"replay: stream {wanted!r} has channels {labels}, not the DOFs "
                              "of a limb")
        self.limb = limbs[0]
        spec = limb_spec(self.limb)
        values = np.asarray(s["time_series"], dtype=float)
        self._t = np.asarray(s["time_stamps"], dtype=float)
        if self._t.size == 0:
            raise ConfigError(f"replay: stream {wanted!r} in {str(path)!r} is empty")
        self._angles = np.full((values.shape[0], spec.n_dofs), np.nan)
        self._angles[:, [spec.dof_index(x) for x in labels]] = values
        self.loop = bool(loop)
        self.duration_s = float(self._t[-1] - self._t[0])
        self._offset_s: float | None = None
        self._next = 0
        self.problem: str | None = None

    def start(self) -> None:
        self._offset_s, self._next, self.problem = None, 0, None

    def read(self, now_s: float) -> list[PoseSample]:
        if self._offset_s is None:
            self._offset_s = now_s - self._t[0]
        out = []
        while True:
            if self._next >= self._t.size:
                if not self.loop:
                    self.problem = "the replayed recording ended"
                    return out
                self._offset_s += self.duration_s + float(np.median(np.diff(self._t)))
                self._next = 0
            t_s = self._t[self._next] + self._offset_s
            if t_s > now_s:
                return out
            out.append(PoseSample(float(t_s), self._angles[self._next], 1.0, now_s))
            self._next += 1

    def stop(self) -> None:
        pass
