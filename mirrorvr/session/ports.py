"""What the session engine needs of the parts it runs on, as typed seams.

The composition root (:mod:`mirrorvr.cli.compose`) builds the concrete parts — the GL window
and renderer, the XDF recorder, the stimulator behind its governor — and tests build fakes
(``tests/fakes.py``); the runner, the loops and the presenter only ever use what is named
here. The stimulation side has one implementation each (governor, scheduler, watchdog),
typed by their classes in :class:`~mirrorvr.session.runner.SessionParts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


class Window(Protocol):
    """Where frames go (:class:`mirrorvr.render.window.Window`; tests: a scripted window)."""

    headless: bool

    def poll_events(self) -> list[str]:
        """Key, click and gamepad event names since the last poll ("space", "click X Y")."""

    def finish(self) -> None:
        """Wait until the frame drawn is complete (before the swap is timed)."""

    def swap(self) -> float:
        """Show the frame; returns when the swap was issued."""

    def read_pixels(self) -> np.ndarray:
        """The frame drawn, ``(height, width, 3)`` uint8 sRGB."""

    def close(self) -> None: ...


class Renderer(Protocol):
    """Draws a :class:`~mirrorvr.render.scene.SceneState` into the window."""

    def draw(self, state) -> None: ...


@runtime_checkable
class ReportsRenderStats(Protocol):
    """A renderer that can say what its frames cost (the session summary includes it)."""

    def render_stats(self) -> dict: ...


class Recorder(Protocol):
    """The session's recording (:class:`mirrorvr.record.recorder.Recorder`): streams on the
    session clock, markers, and how it ends."""

    def add_stream(self, name: str, type: str,  # noqa: A002 - the XDF field's name
                   channel_names: Sequence[str], nominal_rate_hz: float,
                   channel_format: str = "double64", unit: str = ""):
        """A new stream; returns the handle :meth:`push` takes."""

    def push(self, handle, t_s, samples) -> None: ...

    def marker(self, t_s: float, text: str) -> None: ...

    def start(self) -> None: ...

    def close(self) -> None: ...
