"""The window turns pygame events into the session's event names (keys, quit, left clicks)."""

import pytest

pytestmark = pytest.mark.gl


def test_keys_quit_and_left_clicks_are_named(gl_window):
    import pygame

    gl_window.poll_events()  # drop whatever is pending
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE, mod=0))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=(12, 34)))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=3, pos=(5, 6)))
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    assert gl_window.poll_events() == ["space", "click 12 34", "quit"]


def test_the_window_knows_when_it_rasterises_in_software(gl_window):
    # this machine has no GPU: Mesa's llvmpipe is the only renderer (REFERENCES.md)
    assert gl_window.gl_renderer
    assert gl_window.software_rasteriser == ("llvmpipe" in gl_window.gl_renderer.lower())

