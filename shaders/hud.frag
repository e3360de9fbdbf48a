#version 330 core
// HUD text: a pygame-rendered RGBA texture, alpha-blended over the scene.
//
// Inputs:
//   v_texcoord  vec2
// Uniforms:
//   u_texture  sampler2D  RGBA text image (rows bottom-up)
// Outputs:
//   out_color  vec4

in vec2 v_texcoord;

uniform sampler2D u_texture;

out vec4 out_color;

void main() {
    out_color = texture(u_texture, v_texcoord);
}
