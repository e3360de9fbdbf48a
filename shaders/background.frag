#version 330 core
// Calm vertical gradient behind the scene (a quiet wall).
//
// Inputs:
//   v_screen  vec2  0..1 from bottom-left
// Uniforms:
//   u_top_color     vec3  sRGB at the top of the screen
//   u_bottom_color  vec3  sRGB at the bottom
// Outputs:
//   out_color  vec4

in vec2 v_screen;

uniform vec3 u_top_color;
uniform vec3 u_bottom_color;

out vec4 out_color;

void main() {
    out_color = vec4(mix(u_bottom_color, u_top_color, smoothstep(0.0, 1.0, v_screen.y)), 1.0);
}
