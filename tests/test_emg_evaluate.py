"""``mirrorvr emg evaluate`` on generated C_<class>_R_<rep>.csv files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mirrorvr.cli import main
from mirrorvr.clock import FakeClock
from mirrorvr.emg.evaluate import DEFAULT_PIPELINE, load_labelled_dir, parse_pipeline
from mirrorvr.emg.simulator import SimulatedPatient
from mirrorvr.errors import ConfigError

FS = 1000.0
CLASSES = ("rest", "hand_open", "hand_close")


def _write_dir(path, seed=0, reps=3, seconds=1.5, labels=None):
    """One file per (class, rep) of a simulated patient; ``labels`` renames the classes."""
    clock = FakeClock(0.0)
    patient = SimulatedPatient(clock, n_channels=4, sampling_rate_hz=FS, seed=seed)
    patient.start()
    path.mkdir(exist_ok=True)
    k = 0
    for rep in range(reps):
        for movement in CLASSES:
            patient.set_intent(movement, 0.0 if movement == "rest" else 0.6)
            clock.advance(0.3)
            patient.read()  # skip the onset
            clock.advance(seconds)
            data = patient.read().data
            name = labels[k] if labels is not None else movement
            k += 1
            header = ",".join(patient.channel_names) if rep == 0 else ""
            np.savetxt(path / f"C_{name}_R_{rep}.csv", data.T, delimiter=",", header=header,
                       comments="")
    (path / "notes.txt").write_text("ignored")
    return path


def _run_json(capsys, *argv):
    assert main(["emg", "evaluate", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_evaluate_json_leave_one_repetition_out(tmp_path, capsys):
    d = _write_dir(tmp_path / "rec")
    out = _run_json(capsys, str(d), "--fs", "1000", "--pipeline", "HTD:lda",
                    "--pipeline", "MAV+RMS+AR4:sklearn.ensemble.RandomForestClassifier")
    assert out["n_files"] == 9 and out["n_channels"] == 4
    assert out["cv_scheme"] == "leave-one-repetition-out"
    htd, rf = out["results"]
    assert htd["pipeline"] == "HTD:lda"
    assert [f["repetition"] for f in htd["folds"]] == [0, 1, 2]
    # 1.5 s files, 200 ms windows every 50 ms: 27 windows per file, 3 files per fold
    assert all(f["n_windows"] == 81 for f in htd["folds"])
    assert htd["classes"] == sorted(CLASSES)
    conf = np.array(htd["confusion"])
    assert conf.shape == (3, 3) and conf.sum() == 243
    assert htd["mean_accuracy"] > 0.9 and rf["mean_accuracy"] > 0.9
    assert htd["mean_accuracy"] == pytest.approx(np.mean([f["accuracy"] for f in htd["folds"]]))


def test_shuffled_labels_are_near_chance(tmp_path, capsys):
    """Labels that do not follow the signal: LORO must not find structure that is not there."""
    rng = np.random.default_rng(5)
    # every rep holds each label once, assigned to a random movement
    labels = [lab for _ in range(3) for lab in rng.permutation(["a", "b", "c"])]
    d = _write_dir(tmp_path / "shuffled", labels=labels)
    out = _run_json(capsys, str(d), "--fs", "1000")
    assert out["results"][0]["mean_accuracy"] < 0.75


def test_text_output(tmp_path, capsys):
    d = _write_dir(tmp_path / "rec", reps=2, seconds=1.0)
    assert main(["emg", "evaluate", str(d), "--fs", "1000", "--window-ms", "150",
                 "--increment-ms", "25", "--no-filter"]) == 0
    text = capsys.readouterr().out
    assert "6 files, 4 channels" in text
    assert "fold repetition 0:" in text and "fold repetition 1:" in text
    assert "mean accuracy" in text and "confusion (rows true, columns predicted)" in text


def test_errors_name_the_problem(tmp_path, capsys):
    assert main(["emg", "evaluate", str(tmp_path / "missing"), "--fs", "1000"]) == 2
    assert "is not a directory" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["emg", "evaluate", str(empty), "--fs", "1000"]) == 2
    assert "C_<class>_R_<rep>.csv" in capsys.readouterr().err
    one = _write_dir(tmp_path / "one", reps=1, seconds=0.5)
    assert main(["emg", "evaluate", str(one), "--fs", "1000"]) == 2
    assert ">= 2 repetitions" in capsys.readouterr().err
    mixed = _write_dir(tmp_path / "mixed", reps=2, seconds=0.5)
    np.savetxt(mixed / "C_rest_R_5.csv", np.zeros((600, 3)), delimiter=",")
    with pytest.raises(ConfigError, match="disagree on the number of channels"):
        load_labelled_dir(mixed)
    with pytest.raises(ConfigError, match="features"):
        parse_pipeline("FOO:lda")
    with pytest.raises(ConfigError, match="classifier"):
        parse_pipeline("HTD:nope")
    assert parse_pipeline("tdar:svm").features == ("MAV", "WL", "ZC", "SSC", "RMS", "AR4")
    assert not parse_pipeline("HTD:lda").log_amplitude
    logged = parse_pipeline("log-MAV+WL:lda")
    assert logged.log_amplitude and logged.features == ("MAV", "WL")
    assert parse_pipeline(DEFAULT_PIPELINE).log_amplitude  # the live decoder's default
    with pytest.raises(ConfigError, match="features"):
        parse_pipeline("log-:lda")
