"""The window: an OpenGL 3.3 core context through pygame, on screen or headless.

Headless runs use SDL's ``offscreen`` video driver with EGL (Mesa llvmpipe works without a
GPU or X server). Both environment variables must be set before the first ``import OpenGL``,
so this module imports pygame and OpenGL only inside :func:`open_window`.
"""

from __future__ import annotations

import logging
import os
import sys
import time

import numpy as np

from mirrorvr.errors import RenderError

#: Gamepad buttons by SDL joystick button number (the Xbox layout most pads report) and the
#: d-pad's directions, as event names (``"gamepad a"``; the outcome forms read them).
GAMEPAD_BUTTONS = {0: "a", 1: "b", 2: "x", 3: "y"}

logger = logging.getLogger(__name__)


def display_available() -> bool:
    """True when an X11 or Wayland display is configured."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def prepare_environment(headless: bool) -> None:
    """Set the SDL/PyOpenGL platform variables for a headless or on-screen context.

    Must run before the first ``import OpenGL``; raises :class:`RenderError` if OpenGL was
    already imported for another platform.
    """
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    if headless:
        if "OpenGL" in sys.modules and os.environ.get("PYOPENGL_PLATFORM") != "egl":
            raise RenderError(
                "headless: OpenGL was imported before the headless platform was chosen "
                f"(PYOPENGL_PLATFORM={os.environ.get('PYOPENGL_PLATFORM')!r}, needs 'egl'); "
                "open the window before importing OpenGL"
            )
        os.environ["SDL_VIDEODRIVER"] = "offscreen"
        os.environ["PYOPENGL_PLATFORM"] = "egl"


class Window:
    """An open pygame/OpenGL window. Create with :func:`open_window`.

    Attributes
    ----------
    width, height : int
        Framebuffer size, pixels.
    headless : bool
    samples : int
        Multisample count actually obtained (0 = none).
    """

    def __init__(self, width: int, height: int, headless: bool, samples: int) -> None:
        self.width = width
        self.height = height
        self.headless = headless
        self.samples = samples
        self.gl_renderer = ""  # the driver's GL_RENDERER string
        #: ``time.perf_counter()`` when the frame being drawn began (:meth:`begin_frame`) and
        #: when the first :meth:`finish` or :meth:`swap` after that returned: the renderer
        #: measures each frame's draw-to-done time from them (adaptive render scale).
        self.frame_started_s: float | None = None
        self.frame_done_s: float | None = None
        self._closed = False
        self._joysticks: list = []  # opened as pygame reports them (JOYDEVICEADDED)

    def swap(self) -> float:
        """Show the drawn frame; return the session time (``time.monotonic()``, s) after it."""
        import pygame

        self._check_open()
        pygame.display.flip()
        self._frame_done()
        return time.monotonic()

    def begin_frame(self, t_s: float) -> None:
        """A frame starts being drawn at ``t_s`` (``time.perf_counter()``, s)."""
        self.frame_started_s = t_s
        self.frame_done_s = None

    def _frame_done(self) -> None:
        if self.frame_started_s is not None and self.frame_done_s is None:
            self.frame_done_s = time.perf_counter()

    @property
    def software_rasteriser(self) -> bool:
        """True when the GL driver rasterises on the CPU (Mesa llvmpipe/softpipe, SwiftShader)."""
        name = self.gl_renderer.lower()
        return any(s in name for s in ("llvmpipe", "softpipe", "swrast", "swiftshader"))

    def finish(self) -> None:
        """Block until the GPU has executed every command drawn so far (``glFinish``).

        The session calls it before holding a frame back until its presentation time, so
        the swap itself is short and lands when planned.
        """
        from OpenGL import GL

        self._check_open()
        GL.glFinish()
        self._frame_done()

    def poll_events(self) -> list[str]:
        """Pending events as names: ``"quit"``, key names (``"escape"``, ``"space"``, ...),
        left clicks as ``"click X Y"`` (pixels, origin top-left), gamepad sticks as
        ``"joyaxis AXIS VALUE"`` (-1..1), gamepad buttons and the d-pad as ``"gamepad a"``
        ... ``"gamepad y"`` (others ``"gamepad button N"``) and ``"gamepad left"``,
        ``"right"``, ``"up"``, ``"down"``."""
        import pygame

        self._check_open()
        names = []
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                names.append("quit")
            elif event.type == pygame.KEYDOWN:
                names.append(pygame.key.name(event.key))
            elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
                x_px, y_px = event.pos  # pygame's origin is the top-left corner
                names.append(f"click {x_px} {y_px}")
            elif event.type == pygame.JOYAXISMOTION:  # a gamepad's stick (tracking.manual)
                names.append(f"joyaxis {event.axis} {event.value:.4f}")
            elif event.type == pygame.JOYBUTTONDOWN:
                names.append("gamepad " + GAMEPAD_BUTTONS.get(event.button,
                                                              f"button {event.button}"))
            elif event.type == pygame.JOYHATMOTION and event.value != (0, 0):
                x, y = event.value  # SDL: +1 is right and up
                names.append("gamepad " + ("left" if x < 0 else "right" if x > 0
                                           else "up" if y > 0 else "down"))
            elif event.type == pygame.JOYDEVICEADDED:
                self._joysticks.append(pygame.joystick.Joystick(event.device_index))
        return names

    def read_pixels(self) -> np.ndarray:
        """The frame drawn so far (read it before :meth:`swap`).

        Returns
        -------
        pixels : (height, width, 3) uint8, RGB, top row first
        """
        from OpenGL import GL

        self._check_open()
        GL.glReadBuffer(GL.GL_BACK)
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        data = GL.glReadPixels(0, 0, self.width, self.height, GL.GL_RGB, GL.GL_UNSIGNED_BYTE)
        pixels = np.frombuffer(data, dtype=np.uint8).reshape(self.height, self.width, 3)
        return np.ascontiguousarray(pixels[::-1])

    def close(self) -> None:
        """Close the window and its context (idempotent)."""
        import pygame

        if not self._closed:
            pygame.display.quit()
            self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise RenderError("window: it is closed")

    def __enter__(self) -> Window:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_window(
    width: int = 1280,
    height: int = 720,
    headless: bool | None = None,
    title: str = "mirrorvr",
    samples: int = 4,
) -> Window:
    """Open an OpenGL 3.3 core window.

    Parameters
    ----------
    width, height : int
        Pixels, 64..7680 x 64..4320.
    headless : bool or None
        None: headless when neither ``DISPLAY`` nor ``WAYLAND_DISPLAY`` is set.
    title : str
    samples : int
        Multisample anti-aliasing samples; falls back to none if unavailable.

    vsync is on for on-screen windows and off when headless.
    """
    if not (64 <= width <= 7680 and 64 <= height <= 4320):
        raise RenderError(f"window size: {width}x{height} is outside 64..7680 x 64..4320")
    if headless is None:
        headless = not display_available()
    prepare_environment(headless)
    import pygame

    pygame.display.init()
    if pygame.display.get_surface() is not None:
        raise RenderError("window: a window is already open; close it first")
    for attribute, value in (
        (pygame.GL_CONTEXT_MAJOR_VERSION, 3),
        (pygame.GL_CONTEXT_MINOR_VERSION, 3),
        (pygame.GL_CONTEXT_PROFILE_MASK, pygame.GL_CONTEXT_PROFILE_CORE),
        (pygame.GL_DEPTH_SIZE, 24),
        (pygame.GL_DOUBLEBUFFER, 1),
    ):
        pygame.display.gl_set_attribute(attribute, value)
    flags = pygame.OPENGL | pygame.DOUBLEBUF
    obtained = 0
    for attempt in ([samples] if samples > 0 else []) + [0]:
        pygame.display.gl_set_attribute(pygame.GL_MULTISAMPLEBUFFERS, 1 if attempt else 0)
        pygame.display.gl_set_attribute(pygame.GL_MULTISAMPLESAMPLES, attempt)
        try:
            pygame.display.set_mode((width, height), flags, vsync=0 if headless else 1)
        except pygame.error as err:
            logger.info("no %d-sample OpenGL 3.3 context (%s)", attempt, err)
            continue
        obtained = attempt
        break
    else:
        driver = pygame.display.get_driver() if pygame.display.get_init() else "?"
        pygame.display.quit()
        raise RenderError(
            f"could not create an OpenGL 3.3 core context (SDL driver {driver!r}, "
            f"headless={headless}); headless needs Mesa EGL (libegl1 libgl1-mesa-dri)"
        )
    pygame.display.set_caption(title)
    from OpenGL import GL
    from OpenGL.error import GLError

    try:
        version = GL.glGetString(GL.GL_VERSION).decode()
        renderer = GL.glGetString(GL.GL_RENDERER).decode()
        GL.glViewport(0, 0, width, height)
    except GLError as err:
        pygame.display.quit()
        raise RenderError(f"the OpenGL context is unusable: {err}") from err
    logger.info(
        "window %dx%d headless=%s samples=%d: %s on %s",
        width,
        height,
        headless,
        obtained,
        version,
        renderer,
    )
    if obtained:
        GL.glEnable(GL.GL_MULTISAMPLE)
    window = Window(width, height, headless, obtained)
    window.gl_renderer = renderer
    return window
