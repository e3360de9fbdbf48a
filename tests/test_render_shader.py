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
    for name in ("lit.frag", "static.vert"):
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


def test_unknown_uniform_is_an_error(gl_window):
    from mirrorvr.render.shader import ShaderProgram

    program = ShaderProgram("static.vert", "lit.frag")
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
