#version 330 core
// Shading of skin (skin.vert, LIMB defined: lit per pixel with lighting.glsl, plus specular
// and rim) and of the scenery (static.vert: lit per vertex, plus the wood pattern here).
// Symmetric about x = 0 so that a mirrored scene renders mirrored. Colours are lit in linear
// light with gamma 2 (a square in, a square root out: close to sRGB, and far cheaper than
// pow on a software rasteriser).
//
// Inputs:
//   v_world_position  vec3  world-space position, m
// Uniforms:
//   u_alpha            float  opacity (1 opaque; < 1 for the ghost hand)
// With LIMB defined (skinned limbs), also:
//   v_normal            vec3   world-space normal
//   u_camera_position   vec3   eye position, world, m
//   u_light_direction   vec3   unit vector towards the key light, world
//   v_distal            float  distance along the limb from its root, bind pose, m
//   u_color             vec3   skin colour, sRGB 0..1
//   u_wrap              float  diffuse wrap (0 = Lambert, ~0.4 = skin)
//   u_specular          float  specular strength
//   u_virtual_from_m    float  where the virtual part begins (< 0: all virtual, large: none)
//   u_virtual_rgb       vec3   tint of the virtual part, sRGB
//   u_virtual_mix       float  0 = virtual part drawn identically, > 0 = tinted with a seam
//   u_residual_visible  float  1 = draw the residual part, 0 = only the virtual part
//   u_sleeve_to_m       float  clothing covers the limb from its root up to here, m (< 0: none)
//   u_sleeve_rgb        vec3   the clothing's colour, sRGB
//   u_tension           float  0..1: how tense the limb is shown (biofeedback), a warm glow
// Without LIMB (the scenery), also:
//   v_light     vec3      the vertex's light (lighting.glsl)
//   v_color     vec3      base colour, sRGB 0..1
//   v_material  flat int  0 matte, 1 wood planks along x, 2 window (daylight, unlit)
// Outputs:
//   out_color  vec4  sRGB colour with alpha

in vec3 v_world_position;

uniform float u_alpha;

#ifdef LIMB
in vec3 v_normal;
in float v_distal;
uniform vec3 u_camera_position;
uniform vec3 u_light_direction;
uniform vec3 u_color;
uniform float u_wrap;
uniform float u_specular;
uniform float u_virtual_from_m;
uniform vec3 u_virtual_rgb;
uniform float u_virtual_mix;
uniform float u_residual_visible;
uniform float u_sleeve_to_m;
uniform vec3 u_sleeve_rgb;
uniform float u_tension;
#else
in vec3 v_light;
in vec3 v_color;
flat in int v_material;
#endif

out vec4 out_color;

const vec3 TENSION_RGB = vec3(0.95, 0.36, 0.22);

#include "lighting.glsl"

void main() {
#ifdef LIMB
    vec3 n = normalize(v_normal);
    if (!gl_FrontFacing) n = -n;
    vec3 l = u_light_direction;
    vec3 color = u_color;
    float wrap = u_wrap;
    float specular_strength = u_specular;
    float virtual_part = u_virtual_from_m < 0.0
        ? 1.0 : smoothstep(u_virtual_from_m - 0.006, u_virtual_from_m + 0.006, v_distal);
    if (virtual_part < 0.5 && u_residual_visible < 0.5) discard;
    color = mix(color, u_virtual_rgb, u_virtual_mix * virtual_part);
    float seam = 1.0 - smoothstep(0.002, 0.007, abs(v_distal - u_virtual_from_m));
    color *= 1.0 - 0.45 * u_virtual_mix * seam;
    color = mix(color, TENSION_RGB, 0.6 * u_tension);
    if (v_distal < u_sleeve_to_m) {  // a sleeve (upper arm) or trouser leg (thigh)
        float hem = smoothstep(u_sleeve_to_m - 0.012, u_sleeve_to_m, v_distal);
        color = u_sleeve_rgb * (1.0 - 0.25 * hem);
        wrap = 0.2;
        specular_strength = 0.0;
    }
    vec3 base = color * color;
    vec3 linear = base * soft_light(n, l, wrap);
    vec3 v = normalize(u_camera_position - v_world_position);
    vec3 h = normalize(l + v);
    float s = max(dot(n, h), 0.0);
    s *= s; s *= s; s *= s; s *= s; s *= s;  // ^32
    float rim = 1.0 - max(dot(n, v), 0.0);
    linear += vec3(specular_strength * s * step(0.0, dot(n, l))) + base * (rim * rim * rim * 0.10);
#else
    vec3 color = v_color;
    if (v_material == 2) {  // daylight through a window: brighter towards the top
        float sky = clamp(v_world_position.y * 0.35 + 0.5, 0.0, 1.0);
        out_color = vec4(mix(color * 0.92, vec3(1.0), 0.35 * sky), u_alpha);
        return;
    }
    if (v_material == 1) {  // planks 12 cm wide along x, each a little different, with grain
        float along = v_world_position.z * (1.0 / 0.12);
        float plank = floor(along);
        float tone = fract(plank * 0.618034 + 0.31);
        float wave = abs(fract(abs(v_world_position.x) * 0.9 + plank * 0.37) - 0.5);
        float grain = abs(fract(v_world_position.z * 41.0 + 0.35 * wave) - 0.5);
        float gap = min(fract(along) * 40.0, 1.0);
        color *= (0.92 + 0.10 * tone) * (0.97 + 0.05 * grain) * (0.8 + 0.2 * gap);
    }
    vec3 linear = color * color * v_light;
#endif
    out_color = vec4(sqrt(linear), u_alpha);
}
