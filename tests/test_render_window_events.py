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


def test_gamepad_buttons_and_the_d_pad_are_named_as_the_forms_read_them(gl_window):
    import pygame

    from mirrorvr.outcomes.form import GAMEPAD_KEYS

    gl_window.poll_events()
    for button in (0, 1, 2, 7):
        pygame.event.post(pygame.event.Event(pygame.JOYBUTTONDOWN, button=button, joy=0,
                                             instance_id=0))
    for value in ((-1, 0), (1, 0), (0, 1), (0, -1), (0, 0)):
        pygame.event.post(pygame.event.Event(pygame.JOYHATMOTION, hat=0, value=value, joy=0,
                                             instance_id=0))
    names = gl_window.poll_events()
    assert names == ["gamepad a", "gamepad b", "gamepad x", "gamepad button 7",
                     "gamepad left", "gamepad right", "gamepad up", "gamepad down"]
    # every name but the unmapped button is one an instrument form acts on
    assert [n for n in names if n not in GAMEPAD_KEYS] == ["gamepad button 7"]


def test_the_window_knows_when_it_rasterises_in_software(gl_window):
    # this machine has no GPU: Mesa's llvmpipe is the only renderer (REFERENCES.md)
    assert gl_window.gl_renderer
    assert gl_window.software_rasteriser == ("llvmpipe" in gl_window.gl_renderer.lower())

