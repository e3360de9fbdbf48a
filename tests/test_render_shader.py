"""Shader programs: errors name the file; unknown uniforms are errors; meshes upload once."""

import numpy as np
import pytest

from mirrorvr.errors import RenderError, ShaderError

pytestmark = pytest.mark.gl


@pytest.fixture
def broken_shaders(tmp_path, monkeypatch):
    from mirrorvr.resources import shader_path

    folder = tmp_path / "shaders"
    folder.mkdir()
    for name in ("lit.frag", "static.vert", "lighting.glsl"):
        (folder / name).write_text(shader_path(name).read_text())
    (folder / "broken.vert").write_text(
        "#version 330 core\nvoid main() {\n    gl_Position = vec4(undeclared_thing, 1.0);\n}\n"
    )
    monkeypatch.setenv("MIRRORVR_RESOURCES", str(tmp_path))
    return folder


def test_compile_error_names_the_file_and_keeps_the_log(gl_window, broken_shaders):
    from mirrorvr.render.shader import ShaderProgram

    with pytest.raises(ShaderError, match=r"broken\.vert: failed to compile") as info:
        ShaderProgram("broken.vert", "lit.frag")
    assert "undeclared_thing" in str(info.value)  # the driver's log, with its line number
    assert "3" in str(info.value)


def test_defines_keep_line_numbers(gl_window, broken_shaders):
    from mirrorvr.render.shader import ShaderProgram

    with pytest.raises(ShaderError, match=r"0:3\(|0:3:|:3:"):
        ShaderProgram("broken.vert", "lit.frag", defines={"A": 1, "B": 2})


def test_includes_are_expanded_and_a_missing_one_is_named(gl_window, broken_shaders):
    from mirrorvr.render.shader import ShaderProgram

    program = ShaderProgram("static.vert", "lit.frag")  # both include lighting.glsl
    program.release()
    (broken_shaders / "needs.vert").write_text(
        '#version 330 core\n#include "nowhere.glsl"\nvoid main() { gl_Position = vec4(0.0); }\n'
    )
    with pytest.raises(ShaderError, match=r"needs\.vert:2: #include 'nowhere\.glsl'"):
        ShaderProgram("needs.vert", "lit.frag")
    (broken_shaders / "bad.glsl").write_text("float f() { return undeclared_value; }\n")
    (broken_shaders / "uses.vert").write_text(
        '#version 330 core\n#include "bad.glsl"\nvoid main() { gl_Position = vec4(f()); }\n'
    )
    with pytest.raises(ShaderError, match="undeclared_value"):
        ShaderProgram("uses.vert", "lit.frag")


def test_unknown_uniform_is_an_error(gl_window):
    from mirrorvr.render.shader import ShaderProgram

    program = ShaderProgram("skin.vert", "lit.frag", {"LIMB": 1})
    try:
        program.use()
        program.set_uniform("u_color", (1.0, 0.5, 0.2))
        program.set_uniform("u_model", np.eye(4))
        with pytest.raises(ShaderError, match="no active uniform 'u_colour'"):
            program.set_uniform("u_colour", (1.0, 0.5, 0.2))
        with pytest.raises(ShaderError, match="takes 3 floats"):
            program.set_uniform("u_color", (1.0, 0.5))
        with pytest.raises(ShaderError, match=r"u_model"):
            program.set_uniform("u_model", np.eye(3))
    finally:
        program.release()


def test_repeated_uniform_values_are_sent_once_and_changes_always(gl_window, monkeypatch):
    from OpenGL import GL

    from mirrorvr.render.shader import ShaderProgram

    program = ShaderProgram("skin.vert", "lit.frag", {"LIMB": 1})
    sent = []
    real = GL.glUniform3fv
    monkeypatch.setattr(GL, "glUniform3fv", lambda *a: (sent.append(a[0]), real(*a)))
    try:
        program.use()
        loc = program.uniforms["u_color"].location
        for rgb in ((1.0, 0.5, 0.2), (1.0, 0.5, 0.2), (0.1, 0.2, 0.3), (1.0, 0.5, 0.2)):
            program.set_uniform("u_color", rgb)
        assert sent == [loc, loc, loc]  # the repeat is skipped, every change is sent
        out = np.zeros(16, dtype=np.float32)
        GL.glGetUniformfv(program.program, loc, out)
        np.testing.assert_allclose(out[:3], (1.0, 0.5, 0.2))
        m = np.arange(16.0).reshape(4, 4)
        program.set_uniform("u_model", m)
        program.set_uniform("u_model", m.copy())
        m[0, 1] = -1.0
        program.set_uniform("u_model", m)  # row-major in, transposed once at upload
        GL.glGetUniformfv(program.program, program.uniforms["u_model"].location, out)
        np.testing.assert_allclose(out.reshape(4, 4).T, m)  # GL stores columns
        with pytest.raises(ShaderError, match="takes 3 floats"):  # validated before the cache
            program.set_uniform("u_color", (1.0, 0.5))
    finally:
        program.release()


def test_mesh_refuses_double_upload(gl_window):
    from mirrorvr.render.mesh import unit_cube

    cube = unit_cube()
    cube.upload()
    try:
        with pytest.raises(RenderError, match="already uploaded"):
            cube.upload()
    finally:
        cube.release()


def test_read_pixels_is_top_row_first(gl_window):
    from OpenGL import GL

    GL.glViewport(0, 0, gl_window.width, gl_window.height)
    GL.glEnable(GL.GL_SCISSOR_TEST)
    GL.glClearColor(0.0, 0.0, 1.0, 1.0)
    GL.glScissor(0, 0, gl_window.width, gl_window.height)
    GL.glClear(GL.GL_COLOR_BUFFER_BIT)
    GL.glClearColor(1.0, 0.0, 0.0, 1.0)
    GL.glScissor(0, gl_window.height - 10, gl_window.width, 10)  # GL's top rows
    GL.glClear(GL.GL_COLOR_BUFFER_BIT)
    GL.glDisable(GL.GL_SCISSOR_TEST)
    pixels = gl_window.read_pixels()
    gl_window.swap()
    assert tuple(pixels[0, 0]) == (255, 0, 0)
    assert tuple(pixels[-1, 0]) == (0, 0, 255)
    assert gl_window.poll_events() == []
