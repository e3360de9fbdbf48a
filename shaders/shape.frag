#version 330 core
// Flat 2D shapes for the patient screens: a rounded rectangle (a disc when the radius is
// half the size) with an optional border, anti-aliased over about one pixel.
//
// Inputs:
//   v_texcoord  vec2  0..1 across the rectangle (hud.vert), origin bottom-left
// Uniforms:
//   u_size_px    vec2   rectangle size, pixels
//   u_radius_px  float  corner radius, pixels
//   u_border_px  float  border width, pixels (0: none)
//   u_fill       vec4   fill colour, sRGB + alpha
//   u_border     vec4   border colour, sRGB + alpha
// Outputs:
//   out_color  vec4

in vec2 v_texcoord;

uniform vec2 u_size_px;
uniform float u_radius_px;
uniform float u_border_px;
uniform vec4 u_fill;
uniform vec4 u_border;

out vec4 out_color;

void main() {
    vec2 p = (v_texcoord - 0.5) * u_size_px;
    vec2 q = abs(p) - (0.5 * u_size_px - vec2(u_radius_px));
    float d = length(max(q, 0.0)) + min(max(q.x, q.y), 0.0) - u_radius_px;  // < 0 inside
    float inside = 1.0 - smoothstep(-0.75, 0.75, d);
    float fill = 1.0 - smoothstep(-0.75, 0.75, d + u_border_px);
    vec4 color = mix(u_border, u_fill, fill);
    out_color = vec4(color.rgb, color.a * inside);
}
