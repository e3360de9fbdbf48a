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
