"""Sliding analysis windows over multi-channel EMG.

Windows are ``(n_windows, n_channels, window_samples)``. A window "ends" at its last sample;
its time is that sample's time. Window ``k`` covers samples
``[k * increment, k * increment + window)`` of the stream.
"""

from __future__ import annotations

import numpy as np

from mirrorvr.errors import ConfigError


def _check_sizes(window: int, increment: int) -> tuple[int, int]:
    if int(window) != window or window < 1:
        raise ConfigError(f"window_samples: {window!r} must be a positive integer")
    if int(increment) != increment or increment < 1:
        raise ConfigError(f"increment_samples: {increment!r} must be a positive integer")
    return int(window), int(increment)


def sliding_windows(data: np.ndarray, window: int, increment: int) -> np.ndarray:
    """All complete windows of ``data``, as a read-only view (no copy).

    Parameters
    ----------
    data : (n_channels, n) array
        Signal, V.
    window : int
        Window length, samples.
    increment : int
        Step between window starts, samples.

    Returns
    -------
    windows : (n_windows, n_channels, window) array view
        ``n_windows = (n - window) // increment + 1`` (0 when ``n < window``).
    """
    window, increment = _check_sizes(window, increment)
    data = np.asarray(data)
    if data.ndim != 2:
        raise ConfigError(f"data: expected shape (n_channels, n), got {data.shape}")
    n_channels, n = data.shape
    if n < window:
        return np.empty((0, n_channels, window), dtype=data.dtype)
    n_windows = (n - window) // increment + 1
    channel_stride, sample_stride = data.strides
    return np.lib.stride_tricks.as_strided(
        data, shape=(n_windows, n_channels, window),
        strides=(increment * sample_stride, channel_stride, sample_stride), writeable=False,
    )


class SlidingWindower:
    """Turns a stream of chunks into windows, keeping the samples a future window needs.

    Parameters
    ----------
    n_channels : int
    window_samples : int
        Window length, samples.
    increment_samples : int
        Step between consecutive windows, samples.
    """

    def __init__(self, n_channels: int, window_samples: int, increment_samples: int) -> None:
        if int(n_channels) != n_channels or n_channels < 1:
            raise ConfigError(f"n_channels: {n_channels!r} must be a positive integer")
        self.n_channels = int(n_channels)
        self.window_samples, self.increment_samples = _check_sizes(
            window_samples, increment_samples
        )
        self.reset()

    def reset(self) -> None:
        """Drop buffered samples; the next window starts with the next pushed sample."""
        # Samples not yet consumed by a window live in _data[:, :_n] / _t[:_n]; the arrays
        # grow when a push does not fit and are reused, so a push copies only the new chunk.
        capacity = 2 * self.window_samples
        self._data = np.empty((self.n_channels, capacity), dtype=np.float64)
        self._t = np.empty(capacity, dtype=np.float64)
        self._n = 0

    def push(self, t_s: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add samples; return every window completed by them.

        Parameters
        ----------
        t_s : (n,) float
            Session time of each sample, s.
        data : (n_channels, n) float
            Samples, V.

        Returns
        -------
        windows : (n_windows, n_channels, window_samples) float64
            A new C-contiguous array (later pushes do not alter it).
        t_end_s : (n_windows,) float64
            Time of the last sample of each window, s.
        """
        t = np.asarray(t_s, dtype=np.float64)
        x = np.asarray(data, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != self.n_channels:
            raise ConfigError(
                f"data: shape {x.shape} does not match (n_channels={self.n_channels}, n)"
            )
        if t.shape != (x.shape[1],):
            raise ConfigError(f"t_s: shape {t.shape} does not match n={x.shape[1]} samples")
        n_old, n_new = self._n, x.shape[1]
        n = n_old + n_new
        if n > self._t.size:
            grown_data = np.empty((self.n_channels, 2 * n), dtype=np.float64)
            grown_t = np.empty(2 * n, dtype=np.float64)
            grown_data[:, :n_old], grown_t[:n_old] = self._data[:, :n_old], self._t[:n_old]
            self._data, self._t = grown_data, grown_t
        self._data[:, n_old:n] = x
        self._t[n_old:n] = t
        w, inc = self.window_samples, self.increment_samples
        n_windows = (n - w) // inc + 1 if n >= w else 0
        windows = np.empty((n_windows, self.n_channels, w), dtype=np.float64)
        for k in range(n_windows):
            windows[k] = self._data[:, k * inc:k * inc + w]
        consumed = n_windows * inc
        t_end = self._t[w - 1:w - 1 + consumed:inc].copy()
        # Keep what the next window needs at the front (numpy copies overlapping slices safely).
        self._data[:, :n - consumed] = self._data[:, consumed:n]
        self._t[:n - consumed] = self._t[consumed:n]
        self._n = n - consumed
        return windows, t_end
