"""HUD text: pygame.font renders text into RGBA textures drawn as alpha-blended screen quads.

Three slots: the cue (large, top centre), the status line (small, bottom left) and the
therapist's frame-timing overlay (small, bottom right). A slot's texture is rebuilt only when its
text changes.
"""

from __future__ import annotations

import logging

import numpy as np
import pygame

from mirrorvr.render.gl import GL
from mirrorvr.render.shader import ShaderProgram

logger = logging.getLogger(__name__)

CUE_RGB = (255, 255, 255)
STATUS_RGB = (235, 240, 245)
TIMING_RGB = (255, 236, 150)
SHADOW_RGBA = (20, 30, 40, 150)


def render_text_rgba(text: str, size_px: int, color) -> np.ndarray:
    """Text with a soft shadow as an RGBA image.

    Returns
    -------
    image : (h, w, 4) uint8, top row first
    """
    if not pygame.font.get_init():
        pygame.font.init()
    font = pygame.font.Font(None, size_px)
    fg = font.render(text, True, color)
    shadow = font.render(text, True, SHADOW_RGBA[:3])
    shadow.set_alpha(SHADOW_RGBA[3])
    offset = max(1, size_px // 18)
    surface = pygame.Surface((fg.get_width() + offset, fg.get_height() + offset), pygame.SRCALPHA)
    surface.blit(shadow, (offset, offset))
    surface.blit(fg, (0, 0))
    data = pygame.image.tobytes(surface, "RGBA")
    return np.frombuffer(data, dtype=np.uint8).reshape(surface.get_height(), surface.get_width(), 4)


class _Slot:
    def __init__(self):
        self.text = ""
        self.texture = 0
        self.size = (0, 0)  # (w, h) px


class HudText:
    """Draws the cue and status texts over a ``width`` x ``height`` pixel frame."""

    def __init__(self, width: int, height: int):
        self.width = width
        self.height = height
        self.program = ShaderProgram("hud.vert", "hud.frag")
        self.slots = {"cue": _Slot(), "status": _Slot(), "timing": _Slot()}
        self.cue_px = max(18, int(height * 0.075))
        self.status_px = max(12, int(height * 0.035))

    def _update(self, slot: _Slot, text: str, size_px: int, color) -> None:
        if text == slot.text:
            return
        slot.text = text
        if not text:
            return
        image = render_text_rgba(text, size_px, color)[::-1]  # GL rows go bottom-up
        if not slot.texture:
            slot.texture = int(GL.glGenTextures(1))
        GL.glBindTexture(GL.GL_TEXTURE_2D, slot.texture)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        GL.glTexImage2D(
            GL.GL_TEXTURE_2D,
            0,
            GL.GL_RGBA8,
            image.shape[1],
            image.shape[0],
            0,
            GL.GL_RGBA,
            GL.GL_UNSIGNED_BYTE,
            np.ascontiguousarray(image),
        )
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE)
        slot.size = (image.shape[1], image.shape[0])

    def _rect(self, x_px: float, y_px: float, slot: _Slot) -> tuple[float, float, float, float]:
        """NDC (left, bottom, right, top) of a slot whose top-left corner is at pixel (x, y)."""
        w, h = slot.size
        left = 2.0 * x_px / self.width - 1.0
        top = 1.0 - 2.0 * y_px / self.height
        return (left, top - 2.0 * h / self.height, left + 2.0 * w / self.width, top)

    def draw(self, cue_text: str, status_text: str, empty_vao: int, timing_text: str = "") -> None:
        """Draw the texts (empty text draws nothing). Depth test must be off."""
        self._update(self.slots["cue"], cue_text, self.cue_px, CUE_RGB)
        self._update(self.slots["status"], status_text, self.status_px, STATUS_RGB)
        self._update(self.slots["timing"], timing_text, self.status_px, TIMING_RGB)
        visible = [(name, s) for name, s in self.slots.items() if s.text and s.texture]
        if not visible:
            return
        self.program.use()
        self.program.set_uniform("u_texture", 0)
        GL.glEnable(GL.GL_BLEND)
        GL.glBlendFunc(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindVertexArray(empty_vao)
        margin = 0.03 * self.height
        for name, slot in visible:
            if name == "cue":
                rect = self._rect((self.width - slot.size[0]) / 2, margin, slot)
            elif name == "timing":
                x = self.width - margin - slot.size[0]
                rect = self._rect(x, self.height - margin - slot.size[1], slot)
            else:
                rect = self._rect(margin, self.height - margin - slot.size[1], slot)
            self.program.set_uniform("u_rect", rect)
            GL.glBindTexture(GL.GL_TEXTURE_2D, slot.texture)
            GL.glDrawArrays(GL.GL_TRIANGLE_STRIP, 0, 4)
        GL.glDisable(GL.GL_BLEND)

    def release(self) -> None:
        """Free the textures and the program (idempotent)."""
        for slot in self.slots.values():
            if slot.texture:
                GL.glDeleteTextures(1, [slot.texture])
                slot.texture = 0
        self.program.release()
