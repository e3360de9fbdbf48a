"""The offscreen target the 3D scene is drawn into at a reduced render scale, then upscaled.

One framebuffer the size of the window (a colour texture and a depth renderbuffer) is made
once; a frame at scale ``s`` uses its bottom-left ``s*w x s*h`` pixels and
:meth:`SceneTarget.upscale` stretches them over the window with bilinear filtering (a
textured quad, ``shaders/upscale.frag``: a blit cannot write into a multisampled window), so
changing the scale never reallocates anything. At scale 1 the
renderer draws straight into the window and this target is not used.
"""

from __future__ import annotations

import logging

from mirrorvr.errors import RenderError
from mirrorvr.render.gl import GL
from mirrorvr.render.shader import ShaderProgram

logger = logging.getLogger(__name__)


class SceneTarget:
    """An offscreen colour + depth framebuffer of ``width`` x ``height`` pixels."""

    def __init__(self, width: int, height: int, empty_vao: int) -> None:
        self.width, self.height = int(width), int(height)
        self.empty_vao = empty_vao
        self.program = ShaderProgram("hud.vert", "upscale.frag")
        self.fbo = int(GL.glGenFramebuffers(1))
        self.color = int(GL.glGenTextures(1))
        self.depth = int(GL.glGenRenderbuffers(1))
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.color)
        GL.glTexImage2D(
            GL.GL_TEXTURE_2D, 0, GL.GL_RGBA8, self.width, self.height, 0,
            GL.GL_RGBA, GL.GL_UNSIGNED_BYTE, None,
        )
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR)
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, self.depth)
        GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_DEPTH_COMPONENT24, self.width,
                                 self.height)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.fbo)
        GL.glFramebufferTexture2D(
            GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, self.color, 0
        )
        GL.glFramebufferRenderbuffer(
            GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT, GL.GL_RENDERBUFFER, self.depth
        )
        status = GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        if status != GL.GL_FRAMEBUFFER_COMPLETE:
            self.release()
            raise RenderError(f"offscreen scene target {width}x{height}: incomplete ({status})")
        logger.debug("scene target %dx%d", self.width, self.height)

    def bind(self) -> None:
        """Draw into the target (viewports are the caller's)."""
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.fbo)

    def upscale(self, scaled_w: int, scaled_h: int) -> None:
        """Make the window the draw target again and stretch the bottom-left
        ``scaled_w x scaled_h`` pixels over all of it."""
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        GL.glViewport(0, 0, self.width, self.height)
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDisable(GL.GL_BLEND)
        GL.glDisable(GL.GL_CULL_FACE)
        GL.glDisable(GL.GL_SCISSOR_TEST)
        p = self.program
        p.use()
        p.set_uniform("u_texture", 0)
        p.set_uniform("u_rect", (-1.0, -1.0, 1.0, 1.0))
        p.set_uniform("u_uv_scale", (scaled_w / self.width, scaled_h / self.height))
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.color)
        GL.glBindVertexArray(self.empty_vao)
        GL.glDrawArrays(GL.GL_TRIANGLE_STRIP, 0, 4)

    def release(self) -> None:
        """Delete the GL objects (idempotent)."""
        self.program.release()
        if self.fbo:
            GL.glDeleteFramebuffers(1, [self.fbo])
            GL.glDeleteTextures(1, [self.color])
            GL.glDeleteRenderbuffers(1, [self.depth])
            self.fbo = self.color = self.depth = 0
