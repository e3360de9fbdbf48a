"""The CLI builds the stimulator the configuration names; a serial one needs its port and scale."""

import pytest

from mirrorvr.cli import build_stimulator
from mirrorvr.clock import FakeClock
from mirrorvr.config import build_config
from mirrorvr.errors import ConfigError


def test_default_is_the_simulated_stimulator():
    from mirrorvr.stim.simulated import SimulatedStimulator

    assert isinstance(build_stimulator(build_config({}), FakeClock()), SimulatedStimulator)


def test_openemsstim_driver_is_built_on_its_serial_port():
    pytest.importorskip("serial")
    from mirrorvr.stim.openemsstim import OpenEMSStimDriver

    cfg = build_config(
        {"stim": {"driver": "openemsstim", "serial_port": "loop://", "full_scale_ma": 40.0}}
    )
    driver = build_stimulator(cfg, FakeClock())
    try:
        assert isinstance(driver, OpenEMSStimDriver)
    finally:
        driver.close()


def test_openemsstim_without_port_or_scale_is_refused_with_what_is_missing():
    with pytest.raises(ConfigError, match=r"needs serial_port \(given ''\) and full_scale_ma"):
        build_config({"stim": {"driver": "openemsstim"}})
    with pytest.raises(ConfigError, match=r"stim.driver.*'simulated' or 'openemsstim'"):
        build_config({"stim": {"driver": "rehastim"}})
