"""Proportional level: from a window's amplitude to a level in [0, 1].

REFERENCES.md ("Myoelectric pattern recognition"): velocity/proportional output scaled
between per-class rest and MVC levels. With ``m`` the mean MAV over channels of a window,
``rest_v`` the rest amplitude and ``mvc_v`` the class's maximum voluntary contraction
amplitude, the normalised effort is ``u = clip((m - rest_v) / (mvc_v - rest_v), 0, 1)`` and
the level is ``map(u)``:

``linear``     ``u``
``quadratic``  ``u²`` (finer control of small levels)
``logistic``   ``(s(u) - s(0)) / (s(1) - s(0))`` with ``s(u) = 1 / (1 + exp(-k (u - 0.5)))``,
               ``k = 10``: a soft dead zone near rest and a soft saturation near MVC.

Every map sends 0 to 0 and 1 to 1 and is non-decreasing.
"""

from __future__ import annotations

import numpy as np

from mirrorvr.errors import ConfigError

LEVEL_MAPS: tuple[str, ...] = ("linear", "quadratic", "logistic")

#: Steepness ``k`` of the logistic map.
LOGISTIC_STEEPNESS = 10.0


def check_level_map(name: str) -> str:
    if name not in LEVEL_MAPS:
        raise ConfigError(f"level_map: {name!r} is not known (allowed: {list(LEVEL_MAPS)})")
    return name


def map_level(u: np.ndarray, kind: str = "linear",
              steepness: float = LOGISTIC_STEEPNESS) -> np.ndarray:
    """Apply a level map to normalised effort ``u`` (any shape, clipped to [0, 1])."""
    check_level_map(kind)
    u = np.minimum(np.maximum(np.asarray(u, dtype=np.float64), 0.0), 1.0)
    if kind == "linear":
        return u
    if kind == "quadratic":
        return u * u

    def s(x):
        return 1.0 / (1.0 + np.exp(-steepness * (x - 0.5)))

    lo, hi = s(0.0), s(1.0)
    return np.clip((s(u) - lo) / (hi - lo), 0.0, 1.0)


def normalised_effort(mav_v: np.ndarray, rest_v: float, mvc_v: np.ndarray) -> np.ndarray:
    """``clip((m - rest_v) / (mvc_v - rest_v), 0, 1)``; 0 where ``mvc_v <= rest_v``.

    ``mav_v (n,)`` V, ``mvc_v`` scalar or ``(n,)`` V.
    """
    m = np.asarray(mav_v, dtype=np.float64)
    span = np.asarray(mvc_v, dtype=np.float64) - rest_v
    u = (m - rest_v) / np.where(span > 0, span, np.inf)  # no range: / inf gives 0
    return np.minimum(np.maximum(u, 0.0), 1.0) + 0.0  # + 0.0: no -0.0
