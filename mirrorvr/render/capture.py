"""Images and videos of rendered frames.

* still images: :func:`save_png`, labelled contact sheets (:func:`contact_sheet`) and
  :func:`render_states`, which draws any list of scene states offscreen (the documentation's
  pictures; a session's blocks, one frame each);
* session video: :class:`FrameRecorder` writes a PNG sequence and/or an H.264 MP4 (through
  the ffmpeg binary that ships in the ``imageio-ffmpeg`` wheel) on its own writer thread fed
  by a bounded queue. :meth:`FrameRecorder.submit` never blocks: when the writer falls behind
  and the queue is full, the frame is dropped and counted, so the render loop never waits
  for the disk or the encoder.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import subprocess
import threading
from pathlib import Path

import numpy as np

from mirrorvr.errors import RenderError

logger = logging.getLogger(__name__)


def _pygame():
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    return pygame


def _check_rgb(pixels: np.ndarray, what: str) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise RenderError(f"{what}: expected (h, w, 3) uint8, got {pixels.shape} {pixels.dtype}")
    return np.ascontiguousarray(pixels)


def _surface(pixels: np.ndarray):
    pygame = _pygame()
    h, w, _ = pixels.shape
    return pygame.image.frombuffer(pixels.tobytes(), (w, h), "RGB")


def save_png(pixels: np.ndarray, path) -> Path:
    """Write ``pixels`` (h, w, 3) uint8, top row first, as a PNG; return the path."""
    pixels = _check_rgb(pixels, "pixels")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _pygame().image.save(_surface(pixels), str(path))
    logger.debug("saved %s (%dx%d)", path, pixels.shape[1], pixels.shape[0])
    return path


def contact_sheet(
    images: list[np.ndarray], labels: list[str], path, columns: int = 3, thumb_width: int = 480
) -> Path:
    """Write a PNG grid of ``images`` (each (h, w, 3) uint8) with a label under each.

    Thumbnails keep each image's aspect ratio at ``thumb_width`` pixels wide.
    """
    if len(images) != len(labels) or not images:
        raise RenderError(
            f"contact_sheet: {len(images)} images and {len(labels)} labels "
            "(need the same non-zero number)"
        )
    if columns < 1 or thumb_width < 16:
        raise RenderError(
            f"contact_sheet: columns={columns!r}, thumb_width={thumb_width!r} too small"
        )
    pygame = _pygame()
    if not pygame.font.get_init():
        pygame.font.init()
    font = pygame.font.Font(None, max(16, thumb_width // 20))
    thumbs = []
    for i, image in enumerate(images):
        image = _check_rgb(image, f"images[{i}]")
        h = max(1, round(image.shape[0] * thumb_width / image.shape[1]))
        thumbs.append(pygame.transform.smoothscale(_surface(image), (thumb_width, h)))
    label_h = font.get_linesize() + 8
    cell_h = max(t.get_height() for t in thumbs) + label_h
    rows = -(-len(thumbs) // columns)
    pad = 6
    sheet = pygame.Surface((columns * (thumb_width + pad) + pad, rows * (cell_h + pad) + pad))
    sheet.fill((30, 34, 40))
    for i, (thumb, label) in enumerate(zip(thumbs, labels, strict=True)):
        x = pad + (i % columns) * (thumb_width + pad)
        y = pad + (i // columns) * (cell_h + pad)
        sheet.blit(thumb, (x, y))
        sheet.blit(font.render(label, True, (230, 230, 230)), (x + 4, y + thumb.get_height() + 4))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pygame.image.save(sheet, str(path))
    return path


def render_states(states, window, settings=None, **renderer_options) -> list[np.ndarray]:
    """Draw each :class:`~mirrorvr.render.scene.SceneState` of ``states`` into ``window``
    (an open, e.g. headless, window) and read it back.

    Parameters
    ----------
    states : iterable of SceneState
    window : Window
    settings : RenderSettings, optional
        Default: full resolution (``render_scale = 1``), so pictures never depend on how
        busy the machine was.
    **renderer_options
        Passed to :class:`~mirrorvr.render.renderer.Renderer` (``view``, ``appearance``,
        ``layout``, ...).

    Returns
    -------
    images : list of (height, width, 3) uint8, RGB, top row first
    """
    from mirrorvr.config import RenderSettings
    from mirrorvr.render.renderer import Renderer

    renderer = Renderer(window, settings or RenderSettings(render_scale=1.0), **renderer_options)
    images = []
    try:
        for state in states:
            renderer.draw(state)
            images.append(window.read_pixels())
            window.swap()
    finally:
        renderer.close()
    return images


RECORD_FORMATS: tuple[str, ...] = ("png", "mp4")
_STOP = object()


class FrameRecorder:
    """Record rendered frames to disk off the render thread.

    Parameters
    ----------
    directory : path
        Created if missing. PNG frames go to ``directory/frame_000000.png, ...``; the video
        to ``directory/<video_name>``.
    size : (int, int)
        Frame ``(width, height)``, pixels; every submitted frame must have it.
    fps : float
        Frame rate written into the MP4, frames/s (1..240).
    formats : iterable of str
        Any of :data:`RECORD_FORMATS`.
    queue_frames : int
        Frames the queue holds before :meth:`submit` starts dropping (1..1024). Each 1280x720
        frame is 2.8 MB.
    video_name : str
    quality : float
        imageio-ffmpeg quality 0..10 (10 = best; 5 is its default).
    """

    def __init__(
        self,
        directory,
        size: tuple[int, int],
        fps: float = 30.0,
        formats=("png", "mp4"),
        queue_frames: int = 16,
        video_name: str = "session.mp4",
        quality: float = 7.0,
    ):
        formats = tuple(formats)
        unknown = [f for f in formats if f not in RECORD_FORMATS]
        if unknown or not formats:
            raise RenderError(
                f"formats: {list(formats)!r} "
                f"(allowed: a non-empty subset of {list(RECORD_FORMATS)})"
            )
        width, height = (int(v) for v in size)
        if width < 2 or height < 2:
            raise RenderError(f"size: {size!r} must be at least (2, 2) pixels")
        if not 1.0 <= fps <= 240.0:
            raise RenderError(f"fps: {fps!r} is outside [1, 240] frames/s")
        if not 1 <= queue_frames <= 1024:
            raise RenderError(f"queue_frames: {queue_frames!r} is outside [1, 1024]")
        if not 0.0 <= quality <= 10.0:
            raise RenderError(f"quality: {quality!r} is outside [0, 10]")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.size = (width, height)
        self.fps = float(fps)
        self.formats = formats
        self.quality = float(quality)
        self.video_path = self.directory / video_name if "mp4" in formats else None
        self.submitted = 0
        self.dropped = 0
        self.written = 0
        self._queue: queue.Queue = queue.Queue(maxsize=queue_frames)
        self._error: BaseException | None = None
        self._closed = False
        self._video = None
        self._thread = threading.Thread(target=self._run, name="frame-recorder", daemon=True)
        self._thread.start()

    def submit(self, pixels: np.ndarray) -> bool:
        """Queue one frame, (height, width, 3) uint8 RGB top row first; never blocks.

        Returns False (and counts the frame in :attr:`dropped`) when the queue is full.
        Raises :class:`RenderError` for a frame of the wrong shape, after :meth:`close`, or
        when the writer thread has failed.
        """
        if self._closed:
            raise RenderError("recorder: submit() after close()")
        if self._error is not None:
            raise RenderError(f"recorder: the writer failed: {self._error}") from self._error
        pixels = _check_rgb(pixels, "pixels")
        if pixels.shape[:2] != (self.size[1], self.size[0]):
            raise RenderError(
                f"pixels: shape {pixels.shape} does not match the recorder's size "
                f"{self.size[0]}x{self.size[1]} (expected ({self.size[1]}, {self.size[0]}, 3))"
            )
        self.submitted += 1
        try:
            self._queue.put_nowait(pixels)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def close(self) -> dict:
        """Write what is queued, finish the files and stop the writer (idempotent).

        Returns
        -------
        summary : dict
            ``submitted``, ``written``, ``dropped`` (frames), ``directory``, ``video``
            (path or None), ``png_frames`` (count).
        """
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)  # blocks only while the writer drains a full queue
            self._thread.join()
            if self.dropped:
                logger.warning(
                    "recorder: %d of %d frames dropped (the writer fell behind)",
                    self.dropped,
                    self.submitted,
                )
        if self._error is not None:
            raise RenderError(f"recorder: the writer failed: {self._error}") from self._error
        return {
            "submitted": self.submitted,
            "written": self.written,
            "dropped": self.dropped,
            "directory": str(self.directory),
            "video": None if self.video_path is None else str(self.video_path),
            "png_frames": self.written if "png" in self.formats else 0,
        }

    def __enter__(self) -> FrameRecorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                if self._error is None:
                    self._write(item)
                    self.written += 1
        except BaseException as err:  # reported by submit()/close() on the caller's thread
            self._error = err
            logger.error("recorder: writer failed: %s", err)
            while self._queue.get() is not _STOP:  # keep draining so close() returns
                pass
        finally:
            self._finish_video()

    def _write(self, pixels: np.ndarray) -> None:
        if "png" in self.formats:
            save_png(pixels, self.directory / f"frame_{self.written:06d}.png")
        if "mp4" in self.formats:
            if self._video is None:
                self._video = self._open_video()
            self._video.send(pixels)

    def _open_video(self):
        try:
            import imageio_ffmpeg
        except ImportError as err:
            raise RenderError(
                "recording MP4 needs imageio-ffmpeg (pip install imageio-ffmpeg)"
            ) from err
        writer = imageio_ffmpeg.write_frames(
            str(self.video_path),
            self.size,
            fps=self.fps,
            codec="libx264",
            quality=self.quality,
            macro_block_size=2,  # yuv420p needs even sizes; 1280x720 is not rescaled
            ffmpeg_log_level="error",
        )
        writer.send(None)  # start ffmpeg
        logger.info("recording %s (%dx%d, %.1f frames/s)", self.video_path, *self.size, self.fps)
        return writer

    def _finish_video(self) -> None:
        if self._video is not None:
            video, self._video = self._video, None
            try:
                video.close()
            except Exception as err:  # noqa: BLE001 - reported like a write failure
                if self._error is None:
                    self._error = err


def read_video(path) -> tuple[dict, np.ndarray]:
    """Decode a video with the ffmpeg binary of imageio-ffmpeg (for checks and tests).

    Returns
    -------
    meta : dict
        ``size`` (width, height) px and ``fps`` (frames/s, from the container).
    frames : (n_frames, height, width, 3) uint8, RGB
    """
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)]
    cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    done = subprocess.run(cmd, capture_output=True, check=False)
    log = done.stderr.decode(errors="replace")
    stream = re.search(r"Video: .*?, (\d+)x(\d+)[ ,].*?([\d.]+) fps", log)
    if done.returncode != 0 or stream is None:
        raise RenderError(f"read_video: ffmpeg could not decode {path}: {log.strip()[-400:]}")
    w, h, fps = int(stream[1]), int(stream[2]), float(stream[3])
    frames = np.frombuffer(done.stdout, dtype=np.uint8)
    if frames.size % (w * h * 3):
        raise RenderError(f"read_video: {path}: {frames.size} bytes are not whole {w}x{h} frames")
    return {"size": (w, h), "fps": fps}, frames.reshape(-1, h, w, 3)
