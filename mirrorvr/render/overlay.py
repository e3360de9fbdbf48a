"""2D drawing over the 3D scene at the window's full resolution: text and flat shapes.

Text is rendered by ``pygame.font`` into RGBA textures kept in a cache keyed by (text, size,
colour): a text that is drawn again unchanged is never rendered or uploaded again
(:attr:`Overlay.uploads` counts the uploads). Shapes are rounded rectangles and discs drawn
by ``shaders/shape.frag``. Coordinates are pixels of the current viewport, origin top-left.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import numpy as np
import pygame

from mirrorvr.render.gl import GL
from mirrorvr.render.shader import ShaderProgram

logger = logging.getLogger(__name__)

SHADOW_RGBA = (20, 30, 40, 150)
#: Text textures kept; the least recently drawn is deleted beyond this.
TEXT_CACHE_SIZE = 96

_fonts: dict[int, pygame.font.Font] = {}


def font(size_px: int) -> pygame.font.Font:
    """pygame's default font at ``size_px`` (loaded once per size)."""
    if not pygame.font.get_init():
        pygame.font.init()
    f = _fonts.get(size_px)
    if f is None:
        f = _fonts[size_px] = pygame.font.Font(None, size_px)
    return f


def text_size(text: str, size_px: int) -> tuple[int, int]:
    """(width, height) px of ``text`` as :func:`render_text_rgba` draws it."""
    w, h = font(size_px).size(text)
    offset = max(1, size_px // 18)
    return w + offset, h + offset


def render_text_rgba(text: str, size_px: int, color) -> np.ndarray:
    """Text with a soft shadow as an RGBA image.

    Returns
    -------
    image : (h, w, 4) uint8, top row first
    """
    f = font(size_px)
    fg = f.render(text, True, color)
    shadow = f.render(text, True, SHADOW_RGBA[:3])
    shadow.set_alpha(SHADOW_RGBA[3])
    offset = max(1, size_px // 18)
    surface = pygame.Surface((fg.get_width() + offset, fg.get_height() + offset), pygame.SRCALPHA)
    surface.blit(shadow, (offset, offset))
    surface.blit(fg, (0, 0))
    data = pygame.image.tobytes(surface, "RGBA")
    return np.frombuffer(data, dtype=np.uint8).reshape(surface.get_height(), surface.get_width(), 4)


def wrap_text(text: str, size_px: int, max_width_px: float) -> list[str]:
    """``text`` broken into lines at spaces so each fits ``max_width_px`` (a longer word
    stands alone on its line)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if line and text_size(candidate, size_px)[0] > max_width_px:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


class Overlay:
    """Draws text and shapes into a viewport. Call :meth:`begin` before drawing each frame's
    overlay (depth test off, blending on) and :meth:`end` after."""

    def __init__(self) -> None:
        self.text_program = ShaderProgram("hud.vert", "hud.frag")
        self.shape_program = ShaderProgram("hud.vert", "shape.frag")
        self.empty_vao = int(GL.glGenVertexArrays(1))
        self._textures: OrderedDict[tuple, tuple[int, int, int]] = OrderedDict()
        #: Text textures rendered and uploaded so far (a cache miss each).
        self.uploads = 0
        self.width = self.height = 1

    # ------------------------------------------------------------------ frame

    def begin(self, viewport: tuple[int, int, int, int]) -> None:
        """Draw into ``viewport`` (x, y, w, h) px of the current framebuffer."""
        GL.glViewport(*viewport)
        self.width, self.height = max(1, viewport[2]), max(1, viewport[3])
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDisable(GL.GL_CULL_FACE)
        GL.glEnable(GL.GL_BLEND)
        GL.glBlendFunc(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)
        GL.glBindVertexArray(self.empty_vao)

    def end(self) -> None:
        GL.glDisable(GL.GL_BLEND)
        GL.glBindVertexArray(0)

    def _rect_ndc(self, x: float, y: float, w: float, h: float) -> tuple[float, ...]:
        """NDC (left, bottom, right, top) of a rectangle whose top-left corner is (x, y) px."""
        left = 2.0 * x / self.width - 1.0
        top = 1.0 - 2.0 * y / self.height
        return (left, top - 2.0 * h / self.height, left + 2.0 * w / self.width, top)

    # ------------------------------------------------------------------ shapes

    def rect(self, x, y, w, h, fill, border=(0.0, 0.0, 0.0, 0.0), border_px=0.0, radius_px=0.0):
        """A rectangle at top-left (x, y), size (w, h) px; colours sRGB + alpha, 0..1."""
        if w <= 0 or h <= 0:
            return
        p = self.shape_program
        p.use()
        p.set_uniform("u_rect", self._rect_ndc(x, y, w, h))
        p.set_uniform("u_size_px", (w, h))
        p.set_uniform("u_radius_px", min(radius_px, w / 2, h / 2))
        p.set_uniform("u_border_px", border_px)
        p.set_uniform("u_fill", fill)
        p.set_uniform("u_border", border)
        GL.glDrawArrays(GL.GL_TRIANGLE_STRIP, 0, 4)

    def disc(self, cx, cy, radius_px, fill, border=(0.0, 0.0, 0.0, 0.0), border_px=0.0):
        """A disc centred at (cx, cy) px."""
        d = 2.0 * radius_px
        self.rect(cx - radius_px, cy - radius_px, d, d, fill, border, border_px, radius_px)

    # ------------------------------------------------------------------ text

    def text(self, text: str, size_px: int, color, x: float, y: float, anchor: str = "topleft"):
        """Draw ``text`` (``color`` sRGB 0..255) with its ``anchor`` point at (x, y) px.

        ``anchor``: ``"topleft"``, ``"midtop"``, ``"center"``, ``"topright"``,
        ``"bottomleft"``, ``"bottomright"``, ``"midbottom"``. Returns its (w, h) px.
        """
        if not text:
            return (0, 0)
        texture, w, h = self._texture(text, int(size_px), tuple(int(c) for c in color))
        if "right" in anchor:
            x -= w
        elif anchor in ("midtop", "center", "midbottom"):
            x -= w / 2
        if anchor == "center":
            y -= h / 2
        elif "bottom" in anchor:
            y -= h
        p = self.text_program
        p.use()
        p.set_uniform("u_texture", 0)
        p.set_uniform("u_rect", self._rect_ndc(round(x), round(y), w, h))
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, texture)
        GL.glDrawArrays(GL.GL_TRIANGLE_STRIP, 0, 4)
        return (w, h)

    def _texture(self, text: str, size_px: int, color: tuple[int, ...]) -> tuple[int, int, int]:
        key = (text, size_px, color)
        cached = self._textures.get(key)
        if cached is not None:
            self._textures.move_to_end(key)
            return cached
        image = render_text_rgba(text, size_px, color)[::-1]  # GL rows go bottom-up
        texture = int(GL.glGenTextures(1))
        GL.glBindTexture(GL.GL_TEXTURE_2D, texture)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        GL.glTexImage2D(
            GL.GL_TEXTURE_2D, 0, GL.GL_RGBA8, image.shape[1], image.shape[0], 0,
            GL.GL_RGBA, GL.GL_UNSIGNED_BYTE, np.ascontiguousarray(image),
        )
        for pname, value in (
            (GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR),
            (GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR),
            (GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE),
            (GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE),
        ):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, pname, value)
        self.uploads += 1
        entry = (texture, image.shape[1], image.shape[0])
        self._textures[key] = entry
        while len(self._textures) > TEXT_CACHE_SIZE:
            _, (old, _, _) = self._textures.popitem(last=False)
            GL.glDeleteTextures(1, [old])
        return entry

    def release(self) -> None:
        """Free the textures, programs and vertex array (idempotent)."""
        for texture, _, _ in self._textures.values():
            GL.glDeleteTextures(1, [texture])
        self._textures.clear()
        self.text_program.release()
        self.shape_program.release()
        if self.empty_vao:
            GL.glDeleteVertexArrays(1, [self.empty_vao])
            self.empty_vao = 0
