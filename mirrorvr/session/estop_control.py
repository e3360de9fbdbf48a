"""The on-screen emergency-stop control (SAFETY.md item 8): its place and its hit test.

GL-free: the renderer only has to draw :meth:`EStopButton.label` inside :meth:`rect_px`
(today the label is part of the HUD status line). The window reports mouse clicks as event
names ``"click X Y"`` (pixels, origin top-left); :func:`parse_click` reads them and the
session runner calls :meth:`SafetyGovernor.emergency_stop` when a click hits the button.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EStopButton:
    """A rectangle in window fractions (0..1, origin top-left): by default the top-right corner.

    It is large on purpose (a fifth of the width, a tenth of the height): a stop control
    must be easy to hit in a hurry.
    """

    x0: float = 0.78
    y0: float = 0.0
    x1: float = 1.0
    y1: float = 0.1

    def rect_px(self, width: int, height: int) -> tuple[int, int, int, int]:
        """``(left, top, right, bottom)`` in pixels for a ``width`` x ``height`` window."""
        return (round(self.x0 * width), round(self.y0 * height),
                round(self.x1 * width), round(self.y1 * height))

    def hit(self, x_px: float, y_px: float, width: int, height: int) -> bool:
        """True when a click at ``(x_px, y_px)`` lies on the button."""
        left, top, right, bottom = self.rect_px(width, height)
        return left <= x_px <= right and top <= y_px <= bottom

    @staticmethod
    def label(state: str) -> str:
        """What the button shows for the governor's ``state``."""
        if state == "armed":
            return "[ STOP EMS ]"
        return f"[ EMS {state.upper()} ]"


def parse_click(event: str) -> tuple[float, float] | None:
    """``(x, y)`` of a ``"click X Y"`` event name, else None."""
    parts = event.split()
    if len(parts) != 3 or parts[0] != "click":
        return None
    try:
        return float(parts[1]), float(parts[2])
    except ValueError:
        return None
