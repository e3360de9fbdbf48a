#version 330 core
// Upscale the 3D scene, drawn offscreen at a reduced render scale, over the window
// (bilinear filtering; works whether or not the window is multisampled, unlike a blit).
//
// Inputs:
//   v_texcoord  vec2  0..1 across the window (hud.vert with u_rect = the whole NDC square)
// Uniforms:
//   u_texture   sampler2D  the offscreen colour target
//   u_uv_scale  vec2       the part of the target that holds the frame (scaled w / W, h / H)
// Outputs:
//   out_color  vec4

in vec2 v_texcoord;

uniform sampler2D u_texture;
uniform vec2 u_uv_scale;

out vec4 out_color;

void main() {
    out_color = vec4(texture(u_texture, v_texcoord * u_uv_scale).rgb, 1.0);
}
