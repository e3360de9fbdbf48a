"""Stimulation-artefact blanking: exact samples, margins, hold mode, late intervals, decoder,
recordings blanked after the fact."""

from __future__ import annotations

import numpy as np
import pytest

from mirrorvr.emg.blanking import ArtefactBlanker, blank_chunks
from mirrorvr.emg.source import EmgChunk
from mirrorvr.errors import ConfigError

FS = 1000.0


def test_zero_mode_blanks_exactly_the_interval_with_margins():
    b = ArtefactBlanker(2, pre_s=0.002, post_s=0.003, mode="zero")
    t = np.arange(100) / FS
    x = np.ones((2, 100))
    b.blank(0.050, 0.052)
    out = b.process(t, x)
    blanked = np.flatnonzero(out[0] == 0)
    np.testing.assert_array_equal(blanked, np.arange(48, 56))  # 48..55 ms inclusive
    np.testing.assert_array_equal(out[0], out[1])
    assert b.blanked_samples == 8 and x.min() == 1.0  # input untouched


def test_hold_mode_and_chunk_boundaries():
    b = ArtefactBlanker(1, pre_s=0.0, post_s=0.0, mode="hold")
    t = np.arange(20) / FS
    x = np.arange(20, dtype=float)[None, :]
    b.blank(0.009, 0.012)  # spans the chunk boundary at 10 ms
    out = np.hstack([b.process(t[:10], x[:, :10]), b.process(t[10:], x[:, 10:])])
    expected = x.copy()
    expected[0, 9:13] = 8.0  # last good sample before the interval, held across chunks
    np.testing.assert_array_equal(out, expected)


def test_fill_mode_copies_the_samples_before_the_gap():
    b = ArtefactBlanker(1, pre_s=0.0, post_s=0.0)
    t = np.arange(30) / FS
    x = np.arange(30, dtype=float)[None, :]
    b.blank(0.0105, 0.0135)  # samples 11, 12, 13
    out = b.process(t, x)
    expected = x.copy()
    expected[0, 11:14] = [8.0, 9.0, 10.0]
    np.testing.assert_array_equal(out, expected)


def test_recorded_chunks_are_blanked_after_the_fact_like_live():
    t = np.arange(60) / FS
    x = np.vstack([np.arange(60.0), -np.arange(60.0)])
    chunks = [EmgChunk(t[a:b], x[:, a:b]) for a, b in ((0, 25), (25, 40), (40, 60))]
    # the first pulse lies in the first chunk: live, it is only applied if it came first
    pulses = [(0.005, 0.006), (0.024, 0.026), (0.050, 0.050)]
    out, n = blank_chunks(chunks, pulses, pre_s=0.0, post_s=0.0, mode="zero")
    assert [c.t_s.tolist() for c in out] == [c.t_s.tolist() for c in chunks]
    got = np.hstack([c.data for c in out])
    expected = x.copy()
    expected[:, [5, 6, 24, 25, 26, 50]] = 0.0  # the second pulse spans two chunks
    np.testing.assert_array_equal(got, expected)
    assert n == 6 and x[0, 5] == 5.0  # the recording itself is untouched
    # the default rule (the decoder's): the same result as a live blanker told in time
    live = ArtefactBlanker(2)
    for a, b in pulses:
        live.blank(a, b)
    filled, _ = blank_chunks(chunks, pulses)
    np.testing.assert_array_equal(np.hstack([c.data for c in filled]),
                                  np.hstack([live.process(c.t_s, c.data) for c in chunks]))
    assert blank_chunks([], pulses) == ([], 0)


def test_late_interval_is_counted_not_applied():
    b = ArtefactBlanker(1)
    t = np.arange(50) / FS
    b.process(t, np.ones((1, 50)))
    b.blank(0.010, 0.011)
    assert b.late_intervals == 1
    with pytest.raises(ConfigError, match="t_start_s"):
        b.blank(0.2, 0.1)
    with pytest.raises(ConfigError, match="mode"):
        ArtefactBlanker(1, mode="interpolate")


def test_decoder_blanks_stimulation_pulses():
    """With a huge artefact, decoded level without blanking >> level with blanking."""
    from mirrorvr.clock import FakeClock
    from mirrorvr.config import SimulatedEmgSettings
    from mirrorvr.emg.calibration import cue_schedule, simulate_calibration, train_decoder
    from mirrorvr.emg.simulator import SimulatedPatient

    settings = SimulatedEmgSettings(majority_vote=1)
    clock = FakeClock(0.0)
    patient = SimulatedPatient(clock, n_channels=4, seed=1)
    patient.start()
    rec = simulate_calibration(patient, clock, cue_schedule(settings.movements, 2, 2.0, 2.0))
    decoder, _ = train_decoder(rec, settings)
    clock.advance(1.0)
    chunk = patient.read()  # rest
    pulses = chunk.t_s[0] + np.arange(0.1, 0.9, 0.025)  # 40 Hz train
    data = chunk.data.copy()
    for p in pulses:
        k = int(round((p - chunk.t_s[0]) * 2000))
        data[:, k:k + 2] += 0.5  # 0.5 V, two samples
    stim = EmgChunk(chunk.t_s, data)
    decoder.reset()
    dirty = decoder.process(stim)
    decoder.reset()
    for p in pulses:
        decoder.blank(p, p + 0.0005)
    clean = decoder.process(stim)
    assert {i.movement for i in clean[4:]} == {"rest"}
    assert {i.movement for i in dirty[4:]} != {"rest"}
