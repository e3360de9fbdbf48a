"""GPU meshes: numpy vertex attributes and indices uploaded once into a VAO.

Attribute names follow glTF and map to fixed locations shared by every shader
(``layout(location = N)``), so one uploaded mesh works with any program. A mesh refuses a
second upload; attributes declared dynamic can be rewritten each frame with :meth:`update`.
"""

from __future__ import annotations

import ctypes
import logging

import numpy as np

from mirrorvr.errors import RenderError
from mirrorvr.render.gl import GL

logger = logging.getLogger(__name__)

#: Shader attribute locations by glTF-style name (see the header of shaders/skin.vert).
ATTRIBUTE_LOCATIONS: dict[str, int] = {
    "in_position": 0,
    "in_normal": 1,
    "in_joints_0": 2,
    "in_weights_0": 3,
    "in_distal": 4,
    "in_color_0": 5,
    "in_material": 6,
}


class Mesh:
    """Vertex attributes + triangle indices, uploaded lazily.

    Parameters
    ----------
    attributes : dict of str -> (n, k) array
        Keys from :data:`ATTRIBUTE_LOCATIONS`. float arrays become float attributes, unsigned
        integer arrays integer attributes (``uvec``).
    indices : (m, 3) uint32
        Counter-clockwise triangles.
    name : str
    dynamic : iterable of str
        Attributes that :meth:`update` may rewrite (uploaded as ``GL_DYNAMIC_DRAW``).
    """

    def __init__(
        self, attributes: dict[str, np.ndarray], indices: np.ndarray, name: str = "mesh", dynamic=()
    ):
        self.name = name
        n = None
        self.attributes = {}
        for key, array in attributes.items():
            if key not in ATTRIBUTE_LOCATIONS:
                raise RenderError(
                    f"mesh {name!r}: attribute {key!r} unknown "
                    f"(allowed: {list(ATTRIBUTE_LOCATIONS)})"
                )
            array = np.asarray(array)
            if array.ndim != 2 or not 1 <= array.shape[1] <= 4:
                raise RenderError(
                    f"mesh {name!r}: {key} has shape {array.shape}, expected (n, 1..4)"
                )
            if n is not None and len(array) != n:
                raise RenderError(f"mesh {name!r}: {key} has {len(array)} rows, expected {n}")
            n = len(array)
            if np.issubdtype(array.dtype, np.floating):
                array = np.ascontiguousarray(array, dtype=np.float32)
            elif np.issubdtype(array.dtype, np.unsignedinteger):
                array = np.ascontiguousarray(array, dtype=np.uint32)
            else:
                raise RenderError(
                    f"mesh {name!r}: {key} has dtype {array.dtype}, expected float or uint"
                )
            self.attributes[key] = array
        self.n_vertices = n or 0
        indices = np.ascontiguousarray(indices, dtype=np.uint32).reshape(-1)
        if indices.size % 3 or (indices.size and indices.max() >= self.n_vertices):
            raise RenderError(
                f"mesh {name!r}: indices must be triangles into {self.n_vertices} vertices"
            )
        self.indices = indices
        self.dynamic = frozenset(dynamic)
        self.vao = 0
        self._buffers: dict[str, int] = {}

    @property
    def uploaded(self) -> bool:
        return self.vao != 0

    def upload(self) -> None:
        """Create the VAO and buffers (needs a current GL context). A second call is an error."""
        if self.uploaded:
            raise RenderError(f"mesh {self.name!r}: already uploaded")
        self.vao = int(GL.glGenVertexArrays(1))
        GL.glBindVertexArray(self.vao)
        for key, array in self.attributes.items():
            buffer = int(GL.glGenBuffers(1))
            self._buffers[key] = buffer
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, buffer)
            usage = GL.GL_DYNAMIC_DRAW if key in self.dynamic else GL.GL_STATIC_DRAW
            GL.glBufferData(GL.GL_ARRAY_BUFFER, array.nbytes, array, usage)
            location = ATTRIBUTE_LOCATIONS[key]
            GL.glEnableVertexAttribArray(location)
            if array.dtype == np.float32:
                GL.glVertexAttribPointer(
                    location, array.shape[1], GL.GL_FLOAT, GL.GL_FALSE, 0, ctypes.c_void_p(0)
                )
            else:
                GL.glVertexAttribIPointer(
                    location, array.shape[1], GL.GL_UNSIGNED_INT, 0, ctypes.c_void_p(0)
                )
        ebo = int(GL.glGenBuffers(1))
        self._buffers["indices"] = ebo
        GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, ebo)
        GL.glBufferData(
            GL.GL_ELEMENT_ARRAY_BUFFER, self.indices.nbytes, self.indices, GL.GL_STATIC_DRAW
        )
        GL.glBindVertexArray(0)
        logger.debug(
            "uploaded mesh %r: %d vertices, %d triangles",
            self.name,
            self.n_vertices,
            self.indices.size // 3,
        )

    def update(self, key: str, array: np.ndarray) -> None:
        """Rewrite dynamic attribute ``key`` with ``array`` (same shape)."""
        if key not in self.dynamic:
            raise RenderError(f"mesh {self.name!r}: attribute {key!r} is not dynamic")
        if not self.uploaded:
            raise RenderError(f"mesh {self.name!r}: upload() before update()")
        data = np.ascontiguousarray(array, dtype=np.float32)
        if data.shape != self.attributes[key].shape:
            raise RenderError(
                f"mesh {self.name!r}: {key} update has shape {data.shape}, "
                f"expected {self.attributes[key].shape}"
            )
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self._buffers[key])
        GL.glBufferSubData(GL.GL_ARRAY_BUFFER, 0, data.nbytes, data)

    def draw(self) -> None:
        """Draw the triangles with the current program."""
        if not self.uploaded:
            raise RenderError(f"mesh {self.name!r}: upload() before draw()")
        GL.glBindVertexArray(self.vao)
        GL.glDrawElements(
            GL.GL_TRIANGLES, self.indices.size, GL.GL_UNSIGNED_INT, ctypes.c_void_p(0)
        )
        GL.glBindVertexArray(0)

    def release(self) -> None:
        """Delete the GL objects (idempotent)."""
        if self._buffers:
            GL.glDeleteBuffers(len(self._buffers), list(self._buffers.values()))
            self._buffers = {}
        if self.vao:
            GL.glDeleteVertexArrays(1, [self.vao])
            self.vao = 0


def unit_cube() -> Mesh:
    """A cube [-0.5, 0.5]^3 with flat normals (24 vertices, 12 triangles)."""
    from mirrorvr.render.scenery import unit_cube_arrays

    positions, normals, indices = unit_cube_arrays()
    return Mesh({"in_position": positions, "in_normal": normals}, indices, name="unit_cube")
