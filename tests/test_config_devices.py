"""Devices in the configuration: one model per stimulator driver, EMG source and tracker
source, picked by the section's own key (issue 10, configuration by audience)."""

import argparse

import pytest
import tomli_w

from mirrorvr.cli.session import resolve_config, simulate_devices
from mirrorvr.config import (
    _VARIANTS,
    BrainFlowEmgSettings,
    EmgSettings,
    IntactEmgTrackerSettings,
    OpenEmsStimSettings,
    PlaybackEmgSettings,
    RehaStim2Settings,
    SimulatedEmgSettings,
    SimulatedStimSettings,
    StimSettings,
    TrackerSettings,
    WebcamTrackerSettings,
    build_config,
    config_to_toml_dict,
    load_config,
    variant_from,
)
from mirrorvr.errors import ConfigError

#: One complete table per variant: what a set-up would write.
TABLES = {
    "stim": {
        "simulated": {"driver": "simulated"},
        "openemsstim": {"driver": "openemsstim", "serial_port": "/dev/ttyUSB3",
                        "full_scale_ma": 60.0},
        "rehastim2": {"driver": "rehastim2", "serial_port": "COM4"},
    },
    "emg": {
        "simulated": {"source": "simulated"},
        "brainflow": {"source": "brainflow", "board": "CYTON_BOARD", "serial_port": "/dev/x",
                      "n_channels": 8, "sampling_rate_hz": 250.0, "bandpass_hz": [20.0, 110.0],
                      "reconnect_attempts": 2},
        "playback": {"source": "playback", "playback_file": "old/recording.xdf"},
    },
    "tracker": {
        "simulated": {"source": "simulated"},
        "lsl": {"source": "lsl", "stream_name": "leap"},
        "webcam": {"source": "webcam", "camera": "/dev/video2", "model_complexity": 0},
        "keyboard": {"source": "keyboard"},
        "gamepad": {"source": "gamepad"},
        "replay": {"source": "replay", "replay_file": "old/recording.xdf"},
        "intact_emg": {"source": "intact_emg", "emg": {"source": "brainflow",
                                                        "board": "SYNTHETIC_BOARD",
                                                        "n_channels": 16,
                                                        "sampling_rate_hz": 250.0,
                                                        "bandpass_hz": [20.0, 110.0]}},
    },
}

CASES = [(section, tag) for section, tables in TABLES.items() for tag in tables]


def test_every_variant_has_a_table_here():
    assert {(s, m.tag()) for s, models in _VARIANTS.items() for m in models} == set(CASES)


@pytest.mark.parametrize(("section", "tag"), CASES)
def test_a_table_builds_its_variant_with_the_values_given(tmp_path, section, tag):
    table = TABLES[section][tag]
    path = tmp_path / "c.toml"
    path.write_text(tomli_w.dumps({section: table}))
    settings = getattr(load_config(path), section)
    assert type(settings).tag() == tag
    for key, value in table.items():
        got = getattr(settings, key)
        if isinstance(value, dict):
            assert type(got).tag() == value["source"]
        else:
            assert got == (tuple(value) if isinstance(value, list) else value), key


@pytest.mark.parametrize(("section", "tag"), CASES)
def test_a_variant_round_trips_through_toml(tmp_path, section, tag):
    config = build_config({section: TABLES[section][tag]})
    path = tmp_path / "c.toml"
    path.write_text(tomli_w.dumps(config.model_dump(mode="json", exclude_none=True)))
    assert load_config(path) == config


def test_a_section_without_its_key_is_the_simulated_part():
    config = build_config({"emg": {"n_channels": 4}, "stim": {"pulse_width_us": 200.0},
                           "tracker": {"ease_s": 0.3}})
    assert isinstance(config.emg, SimulatedEmgSettings) and config.emg.n_channels == 4
    assert isinstance(config.stim, SimulatedStimSettings) and config.stim.pulse_width_us == 200
    assert config.tracker.source == "simulated" and config.tracker.ease_s == 0.3


def _own_fields():
    """(section, field, a variant without it, the variants that have it) for every field
    that belongs to some variants of a section only."""
    for section, models in _VARIANTS.items():
        shared = set.intersection(*(set(m.model_fields) for m in models))
        for name in sorted(set().union(*(m.model_fields for m in models)) - shared):
            owners = [m.tag() for m in models if name in m.model_fields]
            other = next(m.tag() for m in models if name not in m.model_fields)
            yield section, name, other, owners


@pytest.mark.parametrize(("section", "field", "other", "owners"), list(_own_fields()))
def test_a_field_of_another_variant_is_refused_saying_whose_it_is(section, field, other,
                                                                  owners):
    key = _VARIANTS[section][0].variant_key
    with pytest.raises(ConfigError) as info:
        build_config({section: {key: other, field: "x"}})
    text = str(info.value)
    assert f"{section}.{field} = 'x': not a setting of {section}.{key} = {other!r}" in text
    assert all(repr(tag) in text.split("a setting of", 2)[-1] for tag in owners), text


def test_a_nested_device_section_is_checked_the_same_way():
    with pytest.raises(ConfigError, match=r"tracker\.emg\.board = 'X': not a setting of "
                                          r"tracker\.emg\.source = 'simulated'"):
        build_config({"tracker": {"source": "intact_emg", "emg": {"board": "X"}}})


def test_an_unknown_field_of_a_table_inside_a_device_keeps_its_own_message():
    with pytest.raises(ConfigError) as info:
        build_config({"stim": {"device": {"bogus": 1}}})
    text = str(info.value)
    assert "stim.device.bogus = 1: Extra inputs are not permitted" in text
    assert "not a setting of stim.driver" not in text


@pytest.mark.parametrize("section", list(_VARIANTS))
@pytest.mark.parametrize("given", ["bogus", 7, ""])
def test_an_unknown_variant_is_refused_listing_the_allowed(section, given):
    key = _VARIANTS[section][0].variant_key
    with pytest.raises(ConfigError) as info:
        build_config({section: {key: given}})
    text = str(info.value)
    assert f"{section}.{key} = {given!r}: allowed: " in text
    assert all(repr(m.tag()) in text for m in _VARIANTS[section])


def test_an_unknown_field_lists_what_the_variant_allows():
    with pytest.raises(ConfigError) as info:
        build_config({"stim": {"driver": "rehastim2", "serial_port": "COM4", "port": "COM4"}})
    text = str(info.value)
    assert "stim.port = 'COM4': not a setting of stim.driver = 'rehastim2' (allowed: " in text
    assert all(name in text for name in RehaStim2Settings.model_fields)


@pytest.mark.parametrize(("table", "refusal"), [
    ({"stim": {"driver": "openemsstim", "serial_port": "/dev/x"}},
     r"stim\.driver = 'openemsstim': .*needs serial_port .* and full_scale_ma"),
    ({"stim": {"driver": "rehastim2"}},
     r"stim\.serial_port = '\(not given\)': driver 'rehastim2' needs"),
    ({"emg": {"source": "playback"}},
     r"emg\.playback_file = '\(not given\)': source 'playback' needs"),
    ({"tracker": {"source": "replay"}},
     r"tracker\.replay_file = '\(not given\)': source 'replay' needs"),
])
def test_a_device_without_its_connection_is_refused_naming_it(table, refusal):
    with pytest.raises(ConfigError, match=refusal):
        build_config(table)


@pytest.mark.parametrize("shared", [EmgSettings, StimSettings, TrackerSettings])
def test_the_shared_part_alone_is_not_a_device(shared):
    with pytest.raises(TypeError, match="build one of its variants"):
        shared(**{shared.variant_key: "simulated"})


def test_simulate_swaps_every_device_for_its_twin_and_keeps_the_shared_settings(tmp_path):
    real = {"stim": {**TABLES["stim"]["openemsstim"], "pulse_width_us": 250.0},
            "emg": {**TABLES["emg"]["brainflow"], "window_s": 0.2},
            "tracker": {"source": "intact_emg", "decoder_file": "intact.npz",
                        "emg": TABLES["emg"]["playback"]}}
    twin = build_config(simulate_devices(real))
    assert isinstance(twin.stim, SimulatedStimSettings) and twin.stim.pulse_width_us == 250.0
    assert isinstance(twin.emg, SimulatedEmgSettings)
    assert (twin.emg.window_s, twin.emg.sampling_rate_hz) == (0.2, 250.0)
    assert isinstance(twin.tracker, IntactEmgTrackerSettings)
    assert isinstance(twin.tracker.emg, SimulatedEmgSettings) and twin.tracker.decoder_file == ""
    # a tracker that is not hardware we simulate stays as it is
    webcam = build_config(simulate_devices({**real, "tracker": TABLES["tracker"]["webcam"]}))
    assert isinstance(webcam.tracker, WebcamTrackerSettings)
    assert webcam.tracker.camera == "/dev/video2"
    # the same through the command line's resolution
    path = tmp_path / "real.toml"
    path.write_text(tomli_w.dumps(real))
    args = argparse.Namespace(config=path, profile=None, simulate=True, protocol=None, seed=None,
                              duration=None, no_stim=False, view=None, timing_overlay=False,
                              record_video=False, headless=None, size=None)
    assert resolve_config(args) == twin


def test_settings_saved_with_every_sources_fields_load_as_their_source():
    # a decoder saved before the split held every source's fields
    saved = {**config_to_toml_dict(build_config({"emg": TABLES["emg"]["brainflow"]}))["emg"],
             "playback_file": "", "source": "brainflow"}
    settings = variant_from("emg", saved)
    assert isinstance(settings, BrainFlowEmgSettings) and settings.board == "CYTON_BOARD"
    old = {**saved, "source": "playback", "playback_file": "a.xdf"}
    assert isinstance(variant_from("emg", old), PlaybackEmgSettings)


def test_variants_are_typed_seams():
    config = build_config({"stim": TABLES["stim"]["openemsstim"]})
    assert isinstance(config.stim, OpenEmsStimSettings) and config.stim.full_scale_ma == 60.0
    assert not hasattr(build_config({}).stim, "serial_port")


@pytest.mark.parametrize("complexity", [0, 1])
def test_the_webcam_model_reaches_the_tracker_process(tmp_path, complexity):
    from types import SimpleNamespace

    from mirrorvr.cli.compose import intact_limb_source, resolve_patient

    video = tmp_path / "hand.mp4"
    video.write_bytes(b"")  # only its existence is checked before the process starts
    config, _ = resolve_patient(build_config({"tracker": {
        "source": "webcam", "camera": str(video), "model_complexity": complexity}}))
    source = intact_limb_source(SimpleNamespace(config=config, limb="upper"))
    command = source.command()
    flag = command.index("--model-complexity")
    assert command[flag + 1] == str(complexity)


def test_the_webcam_model_is_full_or_lite():
    with pytest.raises(ConfigError, match=r"tracker\.model_complexity = 2: Input should be 0 "
                                          r"or 1"):
        build_config({"tracker": {"source": "webcam", "model_complexity": 2}})
