"""The session window chooses multisampling for the renderer it gets."""

import pytest

pytestmark = pytest.mark.gl


def test_auto_multisampling_is_off_on_a_software_rasteriser():
    from mirrorvr.cli.compose import open_session_window
    from mirrorvr.config import build_config

    cfg = build_config({"render": {"width": 160, "height": 90, "headless": True}})
    window = open_session_window(cfg)
    try:
        assert window.samples == (0 if window.software_rasteriser else window.samples)
        assert window.software_rasteriser or window.samples > 0
    finally:
        window.close()
