"""Stand-ins for the GL window and renderer, shared by the session tests (no GL needed).

The session runs unchanged against them on the fake clock: the window delivers scripted key
names at given session times; the renderer draws nothing, or fails or stalls on cue.
"""

import numpy as np


class ScriptedWindow:
    """Stands in for the GL window: returns given key names at given session times."""

    headless = True

    def __init__(self, clock, keys_at_s: dict[float, str]):
        self.clock = clock
        self.pending = sorted(keys_at_s.items())

    def poll_events(self):
        keys = []
        while self.pending and self.clock.now() >= self.pending[0][0]:
            keys.append(self.pending.pop(0)[1])
        return keys

    def finish(self):
        pass

    def swap(self):
        return self.clock.now()

    def read_pixels(self):
        return np.zeros((9, 16, 3), np.uint8)

    def close(self):
        pass


class NullRenderer:
    """Draws nothing; raises once the session clock reaches ``fail_at_s``, if given; a frame
    drawn at or after each time in ``stalls_s`` takes that many seconds of the (fake) clock,
    as a slow rasteriser's frame would."""

    def __init__(self, clock=None, fail_at_s=None, stalls_s: dict[float, float] | None = None):
        self.clock = clock
        self.fail_at_s = fail_at_s
        self.stalls = sorted((stalls_s or {}).items())

    def draw(self, state):
        if self.fail_at_s is not None and self.clock.now() >= self.fail_at_s:
            raise RuntimeError("GPU lost")
        if self.stalls and self.clock.now() >= self.stalls[0][0]:
            self.clock.sleep_until(self.clock.now() + self.stalls.pop(0)[1])
