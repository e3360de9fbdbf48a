"""A rating block on the real renderer (offscreen, Mesa llvmpipe): the instrument's item is
drawn, a click on an option in the window (either eye in side-by-side stereo) highlights
exactly that option on screen, and a second click answers it."""

import numpy as np
import pytest

from mirrorvr.clock import FakeClock
from mirrorvr.config import build_config
from mirrorvr.outcomes import InstrumentForm, load_instrument
from mirrorvr.render.panels import SELECTED_RGBA
from mirrorvr.render.screens import option_boxes
from mirrorvr.session.protocol import parse_protocol

pytestmark = pytest.mark.gl

T0 = 1000.0
AMBER = np.array([round(255 * c) for c in SELECTED_RGBA[:3]])


class _Window:
    """The real offscreen window, with scripted events at given session times."""

    def __init__(self, window, clock, events):
        self._window, self.clock, self.pending = window, clock, sorted(events.items())

    def __getattr__(self, name):
        return getattr(self._window, name)

    def poll_events(self):
        names = self._window.poll_events()
        while self.pending and self.clock.now() >= self.pending[0][0]:
            names.append(self.pending.pop(0)[1])
        return names


class _Grabbing:
    """The real renderer; reads the frame back once the clock passes each grab time."""

    def __init__(self, renderer, window, clock, at_s):
        self.renderer, self.window, self.clock = renderer, window, clock
        self.at_s, self.frames = sorted(at_s), []

    def __getattr__(self, name):
        return getattr(self.renderer, name)

    def draw(self, state):
        self.renderer.draw(state)
        if self.at_s and self.clock.now() >= self.at_s[0]:
            self.at_s.pop(0)
            self.frames.append(self.window.read_pixels())


def _amber_share(frame, box, viewport):
    """Share of the pixels inside ``box`` (viewport fractions) that are the selection amber."""
    x0, width = viewport
    h = frame.shape[0]
    left, top, right, bottom = box
    patch = frame[int(top * h) + 2:int(bottom * h) - 2,
                  x0 + int(left * width) + 2:x0 + int(right * width) - 2].reshape(-1, 3)
    return float(np.mean(np.all(np.abs(patch.astype(int) - AMBER) <= 12, axis=1)))


def test_a_click_highlights_the_option_on_screen_and_a_second_answers(gl_window, tmp_path):
    # side-by-side stereo, a click in the right eye's half: both eyes must show it (mono's
    # click mapping is tested without GL in test_session_ratings.py)
    view, eye = "stereo_sbs", 1
    from mirrorvr.cli import build_session
    from mirrorvr.render.renderer import Renderer
    from mirrorvr.session.runner import SessionRunner

    w, h = gl_window.width, gl_window.height
    config = build_config({"render": {"width": w, "height": h, "view": view, "max_fps": 20.0,
                                      "saved_frames": 0, "render_scale": 1.0}})
    protocol = parse_protocol({"name": "pgic", "limb": "upper", "blocks": [
        {"kind": "rating", "name": "pgic_post", "instrument": "pgic", "timepoint": "post"}]})
    boxes = option_boxes(InstrumentForm(load_instrument("pgic")).view())
    viewports = [(0, w // 2), (w // 2, w - w // 2)]  # (x, width) of each eye, px
    x0, width = viewports[eye]
    left, top, right, bottom = boxes[2]
    click = f"click {x0 + round((left + right) / 2 * width)} {round((top + bottom) / 2 * h)}"
    clock = FakeClock(T0)
    window = _Window(gl_window, clock, {T0 + 0.5: click, T0 + 1.0: click})
    renderer = _Grabbing(Renderer(gl_window, config.render, view=view), gl_window, clock,
                         [T0 + 0.3, T0 + 0.8])
    parts = build_session(config, tmp_path, protocol=protocol, clock=clock, realtime=False,
                          ask_ratings=True, window=window, renderer=renderer)
    try:
        summary = SessionRunner(parts).run()
    finally:
        renderer.renderer.close()
    assert summary["results"]["pgic_post"]["answers"] == {"change": 3}
    before, selected = renderer.frames
    for viewport in viewports:  # each eye shows the same screen
        shares = [_amber_share(selected, box, viewport) for box in boxes]
        assert shares[2] > 0.3, shares  # the clicked option is highlighted (text on it)...
        assert max(shares[:2] + shares[3:]) < 0.02, shares  # ...and no other
        assert max(_amber_share(before, box, viewport) for box in boxes) < 0.02
        # the card is drawn: the option boxes are not the room behind them
        x, width = viewport
        assert not np.array_equal(before[int(0.5 * h), x + width // 2], [0, 0, 0])
