"""Configuration: valid defaults; bad values refused naming field, value and what is allowed."""

import pytest
import tomllib

from mirrorvr.config import build_config, config_to_toml_dict, default_config, load_config
from mirrorvr.errors import ConfigError


def test_defaults_hold_nothing_of_a_person():
    # SAFETY.md 12: thresholds, sites, areas and screening come only from a patient's own
    # profile; the demo's patient is the demo's (mirrorvr.sim.demo), not the schema's default
    cfg = default_config()
    assert cfg.patient is None
    assert cfg.emg.n_channels >= 8 and cfg.emg.sampling_rate_hz >= 1000
    assert cfg.emg.increment_s <= cfg.emg.window_s / 2  # overlapping windows


def test_a_profile_must_state_the_person():
    with pytest.raises(ConfigError) as info:
        build_config({"patient": {"pseudonym": "sub-07"}})
    text = str(info.value)
    assert "patient.amputated_side" in text and "patient.amputation_level" in text


def test_the_demo_patient_can_stimulate_every_mapped_channel():
    from mirrorvr.sim.demo import demo_patient
    from mirrorvr.stim.prescription import default_movement_channels

    patient = demo_patient()
    assert patient.screening is not None and not patient.screening.contraindications()
    for channels in default_movement_channels(patient.amputation_level).values():
        for ch in channels:
            assert patient.stim_channel(ch).max_tolerated_ma is not None


@pytest.mark.parametrize(
    "data, field, fragment",
    [
        ({"emg": {"window_s": -1}}, "emg.window_s", "greater than 0"),
        ({"emg": {"window_s": 0.1, "increment_s": 0.2}}, "emg.increment_s = 0.2",
         "must not exceed window_s (0.1)"),
        ({"emg": {"movements": ["rest", "fly"]}}, "emg", "'fly' is not a movement class"),
        (
            {"stim": {"movement_channels": {"hand_close": [9]}}},
            "stim.movement_channels",
            "does not exist",
        ),
        ({"patient": {"pseudonym": "p", "amputation_level": "transradial",
                      "amputated_side": "middle"}},
         "patient.amputated_side", "'left' or 'right'"),
        ({"protocol": {"calibration_fraction": 0.9}}, "protocol.calibration_fraction",
         "block settings live in protocol files now"),
        ({"rendr": {}}, "rendr", "Extra inputs"),
    ],
)
def test_bad_values_name_field_value_and_allowed(data, field, fragment):
    with pytest.raises(ConfigError) as info:
        build_config(data)
    text = str(info.value)
    assert field in text and fragment in text


def test_patient_thresholds_must_be_ordered():
    bad = {
        "patient": {
            "pseudonym": "sub-01", "amputated_side": "left", "amputation_level": "transtibial",
            "stim_channels": [
                {
                    "channel": 0,
                    "site": "flexors",
                    "electrode_area_cm2": 10,
                    "motor_threshold_ma": 20,
                    "max_tolerated_ma": 10,
                }
            ]
        }
    }
    with pytest.raises(
        ConfigError,
        match=r"stim_channels.0.motor_threshold_ma = 20: 20.0 must not exceed max_tolerated_ma",
    ):
        build_config(bad)


def test_toml_round_trip(tmp_path):
    path = tmp_path / "session.toml"
    path.write_text("seed = 7\n[emg]\nn_channels = 12\n[protocol]\nduration_s = 90\n")
    cfg = load_config(path)
    assert (cfg.seed, cfg.emg.n_channels, cfg.protocol.duration_s) == (7, 12, 90)
    assert build_config(config_to_toml_dict(cfg)) == cfg


def test_toml_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("seed = = 3")
    with pytest.raises(ConfigError, match="broken.toml.*not valid TOML"):
        load_config(broken)


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"render": {"view": "3d"}}, "render.view = '3d'"),
        ({"render": {"residual": "ghostly"}}, "render.residual = 'ghostly'"),
        ({"patient": {"measurements": {"forearm_length_m": 0.5}}},
         "patient.measurements.forearm_length_m = 0.5: Input should be less than or equal to 0.34"),
        ({"patient": {"skin_rgb": [1.2, 0.5]}}, "patient.skin_rgb"),
    ],
)
def test_appearance_and_view_values_are_checked(data, fragment):
    with pytest.raises(ConfigError) as info:
        build_config(data)
    assert fragment in str(info.value)


def test_the_readme_configuration_example_is_valid(tmp_path):
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "example.toml").write_text(example, encoding="utf-8")
    config = load_config(tmp_path / "example.toml")
    assert config.seed == 3 and config.emg.source == "brainflow"
    assert config.emg.log_amplitude and config.stim.blank_emg


def test_every_configuration_example_in_the_readme_is_valid():
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    tables = {"seed", "patient", "emg", "stim", "tracker", "render", "protocol", "record"}
    examples = [tomllib.loads(block) for block in re.findall(r"```toml\n(.*?)```", readme, re.S)]
    configs = [e for e in examples if e and set(e) <= tables]
    assert len(configs) >= 3  # the Configuration section, the trackers', the LSL recording's
    for example in configs:
        build_config(example, "README.md")
