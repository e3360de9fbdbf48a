"""The factory builds the stimulator the configuration names; a serial one needs its port and
scale."""

import pytest

from mirrorvr.clock import FakeClock
from mirrorvr.config import build_config
from mirrorvr.errors import ConfigError
from mirrorvr.stim.factory import build_stimulator

# a device emulator on a pty answers in real time: run alone (./dev test)
pytestmark = pytest.mark.serial


def build(cfg):
    return build_stimulator(cfg.stim, FakeClock(), cfg.patient, seed=cfg.seed)


def test_default_is_the_simulated_stimulator_standing_in_for_the_configured_device():
    from mirrorvr.stim.simulated import SimulatedStimulator

    cfg = build_config({"stim": {"device": {"n_channels": 6, "max_amplitude_ma": 150.0}}})
    driver = build(cfg)
    assert isinstance(driver, SimulatedStimulator)
    assert driver.capabilities == cfg.stim.device and driver.n_channels == 6


def test_openemsstim_driver_is_built_on_its_serial_port():
    pytest.importorskip("serial")
    from mirrorvr.stim.openemsstim import OpenEMSStimDriver

    cfg = build_config(
        {"stim": {"driver": "openemsstim", "serial_port": "loop://", "full_scale_ma": 40.0}}
    )
    driver = build(cfg)
    try:
        assert isinstance(driver, OpenEMSStimDriver)
    finally:
        driver.close()


def test_openemsstim_without_port_or_scale_is_refused_with_what_is_missing():
    with pytest.raises(ConfigError, match=r"stim.driver = 'openemsstim': 'openemsstim' needs "
                       r"serial_port \(given ''\) and full_scale_ma"):
        build_config({"stim": {"driver": "openemsstim"}})
    with pytest.raises(ConfigError, match=r"stim.driver.*'simulated', 'openemsstim' or "
                       r"'rehastim2'"):
        build_config({"stim": {"driver": "rehastim"}})


def test_rehastim2_without_port_is_refused_by_name():
    with pytest.raises(ConfigError, match=r"stim.serial_port = '\(not given\)': driver "
                       r"'rehastim2' needs the port"):
        build_config({"stim": {"driver": "rehastim2"}})


def test_rehastim2_driver_is_built_on_its_port_at_the_session_rate():
    pytest.importorskip("pysciencemode")
    emulator_module = pytest.importorskip("emulators.rehastim2")
    from mirrorvr.stim.rehastim import RehaStimDriver

    emulator = emulator_module.RehaStim2Emulator()
    cfg = build_config({"stim": {"driver": "rehastim2", "serial_port": emulator.port_name,
                                 "frequency_hz": 40.0}})
    try:
        driver = build(cfg)
        try:
            assert isinstance(driver, RehaStimDriver)
            assert driver.period_ms == 25.0 and emulator.period_ms == 25.0
        finally:
            driver.close()
    finally:
        emulator.stop()
