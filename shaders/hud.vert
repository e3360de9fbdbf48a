#version 330 core
// A textured screen rectangle for HUD text (no vertex buffers: 4 vertices, triangle strip).
//
// Inputs:   none (draw 4 vertices with an empty vertex array)
// Uniforms:
//   u_rect  vec4  (left, bottom, right, top) in normalised device coordinates
// Outputs:
//   v_texcoord  vec2  0..1, origin bottom-left

uniform vec4 u_rect;

out vec2 v_texcoord;

void main() {
    vec2 corner = vec2(float(gl_VertexID & 1), float((gl_VertexID >> 1) & 1));
    v_texcoord = corner;
    gl_Position = vec4(mix(u_rect.xy, u_rect.zw, corner), 0.0, 1.0);
}
