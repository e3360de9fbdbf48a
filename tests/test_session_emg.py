"""EMG in a session: the decoder saved with it, signal quality, stimulation-artefact blanking.

Fake clock, scripted window and null renderer (no GL), as in test_session_runner.
"""

import json
from pathlib import Path

import pytest
from test_session_runner import CONFIG, T0, NullRenderer, ScriptedWindow

from mirrorvr.cli import run_demo
from mirrorvr.clock import FakeClock
from mirrorvr.emg.decoder import Decoder
from mirrorvr.errors import DecoderError

pyxdf = pytest.importorskip("pyxdf")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    clock = FakeClock(T0)
    return run_demo(CONFIG, tmp_path_factory.mktemp("data"), clock=clock, realtime=False,
                    window=ScriptedWindow(clock, {}), renderer=NullRenderer(clock))


def test_the_trained_decoder_is_saved_with_the_session_and_refuses_another_layout(demo):
    dec = demo["decoder"]
    on_disk = json.loads(Path(demo["session_dir"], "summary.json").read_text())
    assert on_disk["decoder"]["model_file"] == dec["model_file"]
    assert dec["model_file"].startswith(demo["session_dir"])
    names = dec["channel_names"]
    assert len(names) == CONFIG.emg.n_channels
    model = Decoder.load(dec["model_file"], channel_names=names,
                         sampling_rate_hz=CONFIG.emg.sampling_rate_hz)
    assert set(model.classes) == set(dec["classes"])
    assert model.training_data_sha256 == dec["training_data_sha256"]
    with pytest.raises(DecoderError, match="channel layout"):
        Decoder.load(dec["model_file"], channel_names=names[::-1])
    with pytest.raises(DecoderError, match="channel layout"):
        Decoder.load(dec["model_file"], channel_names=names[:4])
    with pytest.raises(DecoderError, match="sampling_rate_hz"):
        Decoder.load(dec["model_file"], channel_names=names, sampling_rate_hz=1000.0)
    streams, _ = pyxdf.load_xdf(demo["recording"], dejitter_timestamps=False)
    markers = [m[0] for s in streams if s["info"]["name"][0] == "markers"
               for m in s["time_series"]]
    assert any(m.startswith("decoder_saved decoder.npz") for m in markers)
