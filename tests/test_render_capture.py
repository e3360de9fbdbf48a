"""Session capture: a PNG sequence and an MP4 written on a writer thread; the render loop
never waits for it (a full queue drops and counts frames instead)."""

import threading

import numpy as np
import pytest

from mirrorvr.config import RenderSettings
from mirrorvr.errors import RenderError
from mirrorvr.limb.poses import target_pose
from mirrorvr.render.capture import FrameRecorder, read_video
from mirrorvr.render.scene import SceneState


def _frames(n, w=64, h=48):
    """n distinct frames: a bright bar moving right over a dark gradient."""
    frames = []
    for i in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        f[..., 2] = np.linspace(20, 120, w, dtype=np.uint8)[None, :]
        f[:, 4 * i : 4 * i + 8] = (250, 200, 60)
        frames.append(f)
    return frames


def test_png_sequence_and_mp4_have_every_frame_at_the_right_size(tmp_path):
    frames = _frames(12)
    with FrameRecorder(tmp_path / "rec", (64, 48), fps=24, queue_frames=32) as rec:
        for f in frames:
            assert rec.submit(f)
    summary = rec.close()
    assert summary["written"] == 12 and summary["dropped"] == 0
    pngs = sorted((tmp_path / "rec").glob("frame_*.png"))
    assert [p.name for p in pngs] == [f"frame_{i:06d}.png" for i in range(12)]
    import pygame

    back = pygame.surfarray.pixels3d(pygame.image.load(str(pngs[5]))).transpose(1, 0, 2)
    np.testing.assert_array_equal(back, frames[5])  # PNG is lossless
    meta, video = read_video(summary["video"])
    assert video.shape == (12, 48, 64, 3)
    assert meta["size"] == (64, 48) and meta["fps"] == pytest.approx(24)
    # Lossy but the same pictures, in order: the bar is where it was drawn.
    for i in (0, 6, 11):
        bar = video[i, :, 4 * i : 4 * i + 8].astype(int).mean(axis=(0, 1))
        assert bar[0] > 200 and bar[2] < 130, (i, bar)


def test_submit_never_blocks_when_the_writer_is_stuck(tmp_path, monkeypatch):
    release = threading.Event()
    started = threading.Event()

    def stuck_write(self, pixels):
        started.set()
        release.wait()

    monkeypatch.setattr(FrameRecorder, "_write", stuck_write)
    rec = FrameRecorder(tmp_path, (64, 48), formats=("png",), queue_frames=2)
    frames = _frames(8)
    rec.submit(frames[0])
    assert started.wait(10)  # the writer holds frame 0
    accepted = [rec.submit(f) for f in frames[1:]]
    assert accepted == [True, True] + [False] * 5  # the queue holds 2; the rest are dropped
    release.set()
    summary = rec.close()
    assert (summary["submitted"], summary["written"], summary["dropped"]) == (8, 3, 5)


def test_recorder_rejects_bad_frames_and_settings(tmp_path):
    with pytest.raises(RenderError, match=r"formats: \['gif'\].*allowed"):
        FrameRecorder(tmp_path, (64, 48), formats=("gif",))
    with pytest.raises(RenderError, match="fps: 0"):
        FrameRecorder(tmp_path, (64, 48), fps=0)
    rec = FrameRecorder(tmp_path, (64, 48), formats=("png",))
    with pytest.raises(RenderError, match=r"does not match the recorder's size 64x48"):
        rec.submit(np.zeros((48, 60, 3), np.uint8))
    rec.close()
    with pytest.raises(RenderError, match="after close"):
        rec.submit(_frames(1)[0])


def test_writer_failure_is_reported_on_the_callers_thread(tmp_path, monkeypatch):
    def broken(self, pixels):
        raise OSError("disk full")

    monkeypatch.setattr(FrameRecorder, "_write", broken)
    rec = FrameRecorder(tmp_path, (64, 48), formats=("png",))
    rec.submit(_frames(1)[0])
    with pytest.raises(RenderError, match="writer failed: disk full"):
        rec.close()


@pytest.mark.gl
def test_rendered_session_frames_record_to_mp4(gl_window, tmp_path):
    from mirrorvr.render.renderer import Renderer

    renderer = Renderer(gl_window, RenderSettings(render_scale=1.0))
    size = (gl_window.width, gl_window.height)
    try:
        with FrameRecorder(tmp_path, size, fps=30, formats=("mp4",)) as rec:
            for i in range(6):
                pose = target_pose("hand_close", i / 5, "right")
                renderer.draw(SceneState(target_pose("rest", 0.0, "left"), pose))
                rec.submit(gl_window.read_pixels())
                gl_window.swap()
    finally:
        renderer.close()
    meta, video = read_video(rec.video_path)
    assert video.shape == (6, size[1], size[0], 3)
    # The hand closes: the first and last frames differ on the right half only.
    diff = np.abs(video[0].astype(int) - video[-1].astype(int)).sum(axis=2) > 60
    half = size[0] // 2
    assert diff[:, half:].sum() > 100 and diff[:, :half].sum() < diff[:, half:].sum() / 10
