"""GLSL programs from the files in ``shaders/``.

A compile or link failure raises :class:`~mirrorvr.errors.ShaderError` naming the file and
the driver's log. ``#include "name"`` pulls in a shared file from ``shaders/`` (e.g. the
room's lighting, used per pixel and per vertex). Defines are injected after ``#version``
followed by ``#line 2`` so the driver's line numbers still match the file. Setting a uniform
the program does not have (misspelt, or optimised away) is an error, never silently skipped.

Matrices are row-major numpy ``(4, 4)`` (or ``(n, 4, 4)`` for arrays) everywhere in
mirrorvr; :meth:`ShaderProgram.set_uniform` is the one place they are transposed for GL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mirrorvr.errors import ResourceError, ShaderError
from mirrorvr.render.gl import GL
from mirrorvr.resources import shader_path

logger = logging.getLogger(__name__)

_STAGES = {".vert": GL.GL_VERTEX_SHADER, ".frag": GL.GL_FRAGMENT_SHADER}


@dataclass(frozen=True)
class UniformInfo:
    """An active uniform: location, GL type enum, array size."""

    location: int
    gl_type: int
    size: int


def _inject_defines(source: str, defines: dict[str, object], path: Path) -> str:
    if not defines:
        return source
    lines = source.splitlines()
    if not lines or not lines[0].startswith("#version"):
        raise ShaderError(f"{path}: the first line must be '#version ...' to inject defines")
    extra = [f"#define {name} {value}" for name, value in sorted(defines.items())]
    return "\n".join([lines[0], *extra, "#line 2", *lines[1:]]) + "\n"


def _expand_includes(source: str, path: Path) -> str:
    """Replace each ``#include "name"`` line by the file ``name`` from ``shaders/`` (one
    level), with ``#line`` directives so the driver's line numbers after it still match."""
    lines = source.splitlines()
    out = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped.startswith("#include"):
            out.append(line)
            continue
        name = stripped[len("#include"):].strip().strip('"')
        try:
            included = shader_path(name).read_text(encoding="utf-8")
        except ResourceError as err:
            raise ShaderError(f"{path}:{number}: #include {name!r}: {err}") from err
        out += ["#line 1", *included.splitlines(), f"#line {number + 1}"]
    return "\n".join(out) + "\n"


def _compile(path: Path, defines: dict[str, object]) -> int:
    stage = _STAGES.get(path.suffix)
    if stage is None:
        raise ShaderError(
            f"{path}: unknown shader stage {path.suffix!r} (allowed: {list(_STAGES)})"
        )
    source = _expand_includes(path.read_text(encoding="utf-8"), path)
    source = _inject_defines(source, defines, path)
    shader = GL.glCreateShader(stage)
    GL.glShaderSource(shader, source)
    GL.glCompileShader(shader)
    if not GL.glGetShaderiv(shader, GL.GL_COMPILE_STATUS):
        log = GL.glGetShaderInfoLog(shader)
        GL.glDeleteShader(shader)
        log = log.decode(errors="replace") if isinstance(log, bytes) else str(log)
        raise ShaderError(f"{path}: failed to compile:\n{log.strip()}")
    return shader


class ShaderProgram:
    """A linked vertex + fragment program.

    Parameters
    ----------
    vertex, fragment : str
        File names in ``shaders/``, e.g. ``"skin.vert"``, ``"lit.frag"``.
    defines : dict, optional
        ``#define NAME value`` lines injected after ``#version``.
    """

    def __init__(self, vertex: str, fragment: str, defines: dict[str, object] | None = None):
        self.defines = dict(defines or {})
        self.paths = (shader_path(vertex), shader_path(fragment))
        self.name = f"{vertex}+{fragment}"
        shaders = []
        try:
            for path in self.paths:
                shaders.append(_compile(path, self.defines))
        except ShaderError:
            for shader in shaders:
                GL.glDeleteShader(shader)
            raise
        program = GL.glCreateProgram()
        for shader in shaders:
            GL.glAttachShader(program, shader)
        GL.glLinkProgram(program)
        for shader in shaders:
            GL.glDetachShader(program, shader)
            GL.glDeleteShader(shader)
        if not GL.glGetProgramiv(program, GL.GL_LINK_STATUS):
            log = GL.glGetProgramInfoLog(program)
            GL.glDeleteProgram(program)
            log = log.decode(errors="replace") if isinstance(log, bytes) else str(log)
            raise ShaderError(f"{self.paths[0]} + {self.paths[1]}: failed to link:\n{log.strip()}")
        self.program = program
        self.uniforms = self._introspect()
        #: The value last sent to each uniform location (as bytes or a number): a uniform is
        #: program state in GL, so sending the same value again is skipped.
        self._values: dict[int, object] = {}
        logger.debug(
            "linked %s (defines %s): uniforms %s", self.name, self.defines, sorted(self.uniforms)
        )

    def _introspect(self) -> dict[str, UniformInfo]:
        uniforms = {}
        count = GL.glGetProgramiv(self.program, GL.GL_ACTIVE_UNIFORMS)
        for i in range(count):
            name, size, gl_type = GL.glGetActiveUniform(self.program, i)
            name = name.decode() if isinstance(name, bytes) else str(name)
            name = name.removesuffix("[0]")
            location = GL.glGetUniformLocation(self.program, name)
            uniforms[name] = UniformInfo(int(location), int(gl_type), int(size))
        return uniforms

    def use(self) -> None:
        """Make this the current program."""
        GL.glUseProgram(self.program)

    def set_uniform(self, name: str, value) -> None:
        """Set uniform ``name`` of this (current) program.

        Values: float / int / bool scalars; vectors as sequences of 2-4 floats (an array of
        vectors as (n, 2..4)); ``mat4`` as a
        row-major (4, 4) array, or (n, 4, 4) for a ``mat4[]`` array (transposed here, once).
        Unknown names and wrong shapes raise :class:`ShaderError`. A value equal to the one
        last set is not sent again (checked after validation, so errors are never skipped).
        """
        info = self.uniforms.get(name)
        if info is None:
            raise ShaderError(
                f"{self.name}: no active uniform {name!r} (active: {sorted(self.uniforms)})"
            )
        t, loc = info.gl_type, info.location
        if t == GL.GL_FLOAT_MAT4:
            m = np.asarray(value, dtype=np.float32)
            if m.shape == (4, 4):
                m = m[None]
            if m.ndim != 3 or m.shape[1:] != (4, 4) or len(m) > info.size:
                raise ShaderError(
                    f"{self.name}: uniform {name!r} takes (4, 4) or (n<={info.size}, 4, 4), "
                    f"got shape {np.shape(value)}"
                )
            m = np.ascontiguousarray(m)
            key = m.tobytes()
            if self._values.get(loc) != key:
                GL.glUniformMatrix4fv(loc, len(m), GL.GL_TRUE, m)
                self._values[loc] = key
        elif t == GL.GL_FLOAT:
            key = float(value)
            if self._values.get(loc) != key:
                GL.glUniform1f(loc, key)
                self._values[loc] = key
        elif t in (GL.GL_FLOAT_VEC2, GL.GL_FLOAT_VEC3, GL.GL_FLOAT_VEC4):
            width = {GL.GL_FLOAT_VEC2: 2, GL.GL_FLOAT_VEC3: 3, GL.GL_FLOAT_VEC4: 4}[t]
            v = np.asarray(value, dtype=np.float32)
            rows = v.reshape(-1, width) if v.ndim == 2 and info.size > 1 else v.reshape(1, -1)
            if rows.shape[1] != width or len(rows) > info.size:
                raise ShaderError(
                    f"{self.name}: uniform {name!r} takes {width} floats"
                    + (f" (or (n<={info.size}, {width}))" if info.size > 1 else "")
                    + f", got shape {np.shape(value)}"
                )
            rows = np.ascontiguousarray(rows)
            key = rows.tobytes()
            if self._values.get(loc) != key:
                (GL.glUniform2fv, GL.glUniform3fv, GL.glUniform4fv)[width - 2](loc, len(rows), rows)
                self._values[loc] = key
        elif t in (GL.GL_INT, GL.GL_BOOL, GL.GL_SAMPLER_2D):
            key = int(value)
            if self._values.get(loc) != key:
                GL.glUniform1i(loc, key)
                self._values[loc] = key
        else:
            raise ShaderError(
                f"{self.name}: uniform {name!r} has a GL type {t} this program cannot set"
            )

    def release(self) -> None:
        """Delete the GL program (idempotent)."""
        if self.program:
            GL.glDeleteProgram(self.program)
            self.program = 0
