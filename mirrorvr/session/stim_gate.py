"""Stimulation only from a signal you can trust (SAFETY.md 14).

Stimulation triggered by decoded EMG needs a decoder whose cross-validated accuracy passed
the protocol's threshold, EMG whose quality checks pass on the channels the decoder uses,
and an EMG stream that is still coming. :class:`StimulationGate` holds those three facts
(set from the control thread) and answers, per trigger source, whether a train may be
scheduled and, if not, why (for the HUD, the markers and the summary).
"""

from __future__ import annotations

import threading

#: Plan-entry sources whose onsets come from decoded EMG.
DECODED_SOURCES = frozenset({"decoder"})


class StimulationGate:
    """Whether stimulation may follow an onset from a given source.

    Parameters
    ----------
    min_decoder_accuracy : float
        Cross-validated accuracy (0..1) a decoder needs before its decisions may trigger
        stimulation.
    """

    def __init__(self, min_decoder_accuracy: float) -> None:
        self.min_decoder_accuracy = float(min_decoder_accuracy)
        self._lock = threading.Lock()
        self._decoder_reason = "no decoder trained yet"
        self._quality_reason = ""
        self._stream_reason = ""
        #: onsets whose stimulation the gate held back, per reason
        self.held: dict[str, int] = {}

    def set_decoder_accuracy(self, accuracy: float, n_classes: int) -> None:
        """A decoder was trained with this cross-validated ``accuracy`` on ``n_classes``."""
        with self._lock:
            if accuracy >= self.min_decoder_accuracy:
                self._decoder_reason = ""
            else:
                self._decoder_reason = (
                    f"decoder accuracy {100 * accuracy:.1f} % is below the "
                    f"{100 * self.min_decoder_accuracy:.0f} % needed to stimulate "
                    f"(chance {100 / max(n_classes, 1):.0f} %)")

    def set_quality(self, bad_channels: list[str]) -> None:
        """The channels whose last quality check found a problem (empty: all fine)."""
        with self._lock:
            self._quality_reason = (
                "" if not bad_channels else
                f"EMG quality check failed on {', '.join(bad_channels)}")

    def set_stream(self, reason: str) -> None:
        """"" while EMG is coming; else why it is not ("no samples since 12.75 s")."""
        with self._lock:
            self._stream_reason = reason

    def reason(self, source: str) -> str:
        """Why an onset from ``source`` may not be stimulated now; "" when it may."""
        if source not in DECODED_SOURCES:
            return ""
        with self._lock:
            return self._stream_reason or self._decoder_reason or self._quality_reason

    def hold(self, source: str) -> str:
        """:meth:`reason`, counting the held onset under it when there is one."""
        why = self.reason(source)
        if why:
            with self._lock:
                key = why.split(" (")[0]
                self.held[key] = self.held.get(key, 0) + 1
        return why
