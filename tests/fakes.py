"""Stand-ins for the GL window and renderer, shared by the session tests (no GL needed).

The session runs unchanged against them on the fake clock: the window delivers scripted key
names at given session times; the renderer draws nothing, or fails or stalls on cue.
"""

import time

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
    as a slow rasteriser's frame would; every frame takes ``draw_s`` of it (default 0)."""

    def __init__(self, clock=None, fail_at_s=None, stalls_s: dict[float, float] | None = None,
                 draw_s: float = 0.0):
        self.clock = clock
        self.fail_at_s = fail_at_s
        self.stalls = sorted((stalls_s or {}).items())
        self.draw_s = draw_s

    def draw(self, state):
        if self.fail_at_s is not None and self.clock.now() >= self.fail_at_s:
            raise RuntimeError("GPU lost")
        if self.draw_s:
            self.clock.sleep_until(self.clock.now() + self.draw_s)
        if self.stalls and self.clock.now() >= self.stalls[0][0]:
            self.clock.sleep_until(self.clock.now() + self.stalls.pop(0)[1])


def protocol(name: str = "demo", **changes):
    """A built-in protocol with block fields changed per kind, e.g.
    ``protocol(calibration={"stimulation": True})``; a ``blocks`` list appends blocks."""
    from mirrorvr.session.protocol import load_protocol, parse_protocol

    data = load_protocol(name).model_dump(mode="json", exclude_none=True)
    extra = changes.pop("blocks", [])
    for block in data["blocks"]:
        block.update(changes.get(block["kind"], {}))
    data["blocks"] += extra
    return parse_protocol(data, f"{name} (test)")


def planned_starts(config, t0_s: float, proto=None) -> dict[str, float]:
    """Where each block of ``config``'s session should start (session s), from its plan: for
    scripting key presses ahead of a run. Read the true times from the recorded markers."""
    from mirrorvr.cli.compose import resolve_patient, resolve_protocol

    resolved, _ = resolve_patient(config)
    _, _, blocks = resolve_protocol(resolved, proto)
    starts, t = {}, t0_s
    for block in blocks:
        starts[block.name] = t
        t += block.duration_s
    return starts


def block_spans(recording: str) -> dict[str, tuple[float, float]]:
    """Each block's (start, end), session s, from the recorded markers."""
    import pyxdf

    streams, _ = pyxdf.load_xdf(recording, dejitter_timestamps=False)
    markers = next(s for s in streams if s["info"]["name"][0] == "markers")
    spans: dict[str, list[float]] = {}
    for t, (text,) in zip(markers["time_stamps"], markers["time_series"], strict=True):
        kind, _, name = text.partition(" ")
        if kind in ("block_start", "block_end"):
            spans.setdefault(name, []).append(float(t))
    return {name: (ts[0], ts[-1]) for name, ts in spans.items()}


def wait_for(predicate, timeout_s: float = 10.0, poll_s: float = 0.002) -> bool:
    """Poll until ``predicate()`` holds (another thread's or process's progress: a device
    twin, a watchdog thread); a generous bound, not a timing assertion. Its last answer."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(poll_s)
    return predicate()
