#version 330 core
// Full-screen triangle for the room background (no vertex buffers: uses gl_VertexID).
//
// Inputs:   none (draw 3 vertices with an empty vertex array)
// Uniforms: none
// Outputs:
//   v_screen  vec2  screen position, 0..1 from bottom-left

out vec2 v_screen;

void main() {
    vec2 corner = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    v_screen = corner;
    gl_Position = vec4(corner * 2.0 - 1.0, 1.0, 1.0);
}
