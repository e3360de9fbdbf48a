"""Live LSL streams: a session publishes every stream it records; a pylsl inlet reads them
while it runs, and what it reads equals the XDF recording as pyxdf reads it.

Discovery stays on this machine (lsl_api.cfg, ResolveScope = machine, via LSLAPICFG)."""

import threading
import time
import uuid

import numpy as np
import pytest

from mirrorvr.clock import FakeClock
from mirrorvr.config import RecordSettings, build_config, config_to_toml_dict, default_config
from mirrorvr.record.lsl import LslPublisher
from mirrorvr.record.recorder import Recorder

pylsl = pytest.importorskip("pylsl")
pyxdf = pytest.importorskip("pyxdf")

#: Longest wait for the producer (a 40 s demo session on the fake clock takes ~1-2 min on
#: a busy 2-core machine) and then for the last samples, s.
DEADLINE_S = 300.0
#: How long the publisher waits for the reader to connect to each stream, s.
WAIT_FOR_READER_S = 60.0


def _xdf_streams(path):
    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    return {s["info"]["name"][0]: s for s in streams}


def _channel_field(info, field):
    out = []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty():
        out.append(ch.child_value(field))
        ch = ch.next_sibling()
    return out


class _Reader:
    """Finds this session's streams (by source id) and pulls them until told to stop."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.inlets: dict[str, object] = {}
        self.infos: dict[str, object] = {}
        self.data: dict[str, list] = {}
        self.times: dict[str, list] = {}

    def discover(self) -> None:
        # liblsl answers a resolve in waves: under ~1 s it finds only some of the outlets
        found = pylsl.resolve_bypred(f"starts-with(source_id,'{self.prefix}')", 0, 2.0)
        for info in found:
            name = info.name()
            if name in self.inlets:
                continue
            inlet = pylsl.StreamInlet(info, max_buflen=360, recover=False)
            inlet.open_stream(timeout=10)
            self.inlets[name] = inlet
            self.infos[name] = inlet.info(timeout=10)
            self.data[name], self.times[name] = [], []

    def pull(self) -> None:
        for name, inlet in self.inlets.items():
            samples, stamps = inlet.pull_chunk(timeout=0.0, max_samples=100000)
            if stamps:
                self.data[name].extend(samples)
                self.times[name].extend(stamps)


def _compare(reader, xdf):
    assert set(reader.inlets) == set(xdf)
    for name, stream in xdf.items():
        xinfo = stream["info"]
        linfo = reader.infos[name]
        assert linfo.type() == xinfo["type"][0]
        assert linfo.channel_count() == int(xinfo["channel_count"][0])
        assert linfo.nominal_srate() == float(xinfo["nominal_srate"][0])
        xchannels = xinfo["desc"][0]["channels"][0]["channel"]
        assert _channel_field(linfo, "label") == [c["label"][0] for c in xchannels]
        assert _channel_field(linfo, "unit") == [c.get("unit", [""])[0] for c in xchannels]
        assert _channel_field(linfo, "type") == [c["type"][0] for c in xchannels]
        np.testing.assert_array_equal(np.array(reader.times[name]), stream["time_stamps"],
                                      err_msg=name)
        if xinfo["channel_format"][0] == "string":
            assert [list(r) for r in reader.data[name]] == [list(r) for r in
                                                            stream["time_series"]], name
        else:
            np.testing.assert_array_equal(
                np.array(reader.data[name], dtype=stream["time_series"].dtype),
                stream["time_series"], err_msg=name)


def _read_until_complete(reader, done: threading.Event, counts, connected=None, n_streams=0):
    """Pull while the producer runs, then until every stream has what the XDF has;
    ``connected`` is set once ``n_streams`` streams have an inlet."""
    deadline = time.monotonic() + DEADLINE_S
    while not done.is_set() and time.monotonic() < deadline:
        reader.discover()
        if connected is not None and len(reader.inlets) >= n_streams:
            connected.set()
        reader.pull()
    assert done.is_set(), "the session did not finish in time"
    expected = counts()
    while time.monotonic() < deadline:
        reader.pull()
        if all(len(reader.times.get(n, [])) == c for n, c in expected.items()):
            return
        done.wait(0.05)
    raise AssertionError({n: (len(reader.times.get(n, [])), c) for n, c in expected.items()})


def test_recorder_streams_go_live_with_names_units_and_timestamps(tmp_path):
    session_dir = tmp_path / f"sub-{uuid.uuid4().hex[:8]}" / "20260101T000000-lsl"
    publisher = LslPublisher(wait_for_consumers_s=WAIT_FOR_READER_S)
    clock = FakeClock(100.0)
    recorder = Recorder(session_dir, clock, live=publisher)
    reader = _Reader(f"mirrorvr:{session_dir.parent.name}/")
    emg = recorder.add_stream("EMG", "EMG", ["EMG1", "EMG2", "EMG3"], 2000.0, "float32",
                              unit="volts")
    pose = recorder.add_stream("pose_right", "Pose", ["elbow", "wrist"], 0.0, "float32",
                               unit="rad")
    events = recorder.add_stream("stimulation", "StimEvents", ["event"], 0.0, "string")
    done, connected = threading.Event(), threading.Event()
    rng = np.random.default_rng(3)

    def produce():
        recorder.start()
        for k in range(40):  # 40 chunks of 50 samples as the EMG source delivers them
            t = 100.0 + (k * 50 + np.arange(50)) / 2000.0
            recorder.push(emg, t, rng.normal(0, 1e-4, (50, 3)))
            recorder.push(pose, [t[-1]], [[0.1 * k, -0.05 * k]])
            recorder.marker(float(t[0]), f"cue {k} – ünïcode")
            if k % 10 == 0:
                recorder.push(events, [t[0]], [['{"kind": "sent", "channel": 0}']])
        # the session goes on while the lab's recorder connects (closing would end the
        # publisher's wait for it, and what is queued then goes out to nobody)
        connected.wait(DEADLINE_S)
        recorder.close()
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        _read_until_complete(reader, done, lambda: {
            n: len(s["time_stamps"]) for n, s in _xdf_streams(recorder.path).items()},
            connected, 4)
    finally:
        producer.join()
        publisher.release()
    xdf = _xdf_streams(recorder.path)
    assert len(xdf["EMG"]["time_stamps"]) == 2000
    assert _channel_field(reader.infos["EMG"], "unit") == ["volts"] * 3
    _compare(reader, xdf)


@pytest.mark.gl
@pytest.mark.slow
@pytest.mark.serial
def test_a_demo_session_published_on_lsl_equals_its_recording(tmp_path):
    from mirrorvr.cli import build_session
    from mirrorvr.session.runner import SessionRunner
    from mirrorvr.sim.demo import demo_patient

    pseudonym = f"sub-lsl{uuid.uuid4().hex[:6]}"  # this run's streams, whoever else runs
    data = config_to_toml_dict(default_config())
    data["patient"] = demo_patient().model_dump(mode="json", exclude_none=True)
    data["patient"]["pseudonym"] = pseudonym
    data["protocol"]["duration_s"] = 40.0
    data["render"].update(width=320, height=180, headless=True, max_fps=30, saved_frames=0)
    data["record"].update(lsl=True, lsl_wait_for_consumers_s=WAIT_FOR_READER_S)
    config = build_config(data)
    assert config.record == RecordSettings(lsl=True, lsl_wait_for_consumers_s=WAIT_FOR_READER_S)
    reader = _Reader(f"mirrorvr:{pseudonym}/")
    built, done = threading.Event(), threading.Event()
    failure, built_parts = [], []

    def run():  # a GL context is its thread's: the session is built where it runs
        try:
            built_parts.append(build_session(config, tmp_path, clock=FakeClock(1000.0),
                                             realtime=False))
            built.set()
            SessionRunner(built_parts[0]).run()
        except BaseException as err:  # re-raised below
            failure.append(err)
        finally:
            if built_parts:
                built_parts[0].window.close()
            built.set()
            done.set()

    session = threading.Thread(target=run)
    session.start()
    built.wait()
    assert built_parts, failure
    parts = built_parts[0]
    try:
        _read_until_complete(reader, done, lambda: {
            n: len(s["time_stamps"])
            for n, s in _xdf_streams(parts.recorder.path).items()})
    finally:
        session.join()
        parts.recorder.live.release()
    assert not failure, failure
    xdf = _xdf_streams(parts.recorder.path)
    assert {"EMG", "markers", "stimulation", "ratings", "movement_plan"} <= set(xdf)
    assert len(xdf["EMG"]["time_stamps"]) > 40 * 2000 * 0.9
    _compare(reader, xdf)


def test_the_recorder_never_waits_for_lsl(tmp_path):
    """With the publisher held up (no consumer, a long wait), pushes return, the recording
    gets everything, and closing ends the wait."""
    session_dir = tmp_path / f"sub-{uuid.uuid4().hex[:8]}" / "20260101T000000-wait"
    publisher = LslPublisher(wait_for_consumers_s=WAIT_FOR_READER_S)
    recorder = Recorder(session_dir, FakeClock(0.0), live=publisher)
    emg = recorder.add_stream("EMG", "EMG", ["EMG1"], 1000.0, "float32", unit="volts")
    pushed, closed = threading.Event(), threading.Event()

    def produce():
        recorder.start()
        for k in range(200):
            recorder.push(emg, (k * 10 + np.arange(10)) / 1000.0, np.ones((10, 1)))
        pushed.set()
        recorder.close()
        closed.set()

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        assert pushed.wait(10.0), "push waited on LSL"
        assert closed.wait(10.0), "closing waited for an LSL consumer"
    finally:
        producer.join()
        publisher.release()
    assert len(_xdf_streams(recorder.path)["EMG"]["time_stamps"]) == 2000
