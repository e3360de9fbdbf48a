#version 330 core
// Soft lighting for skin, cloth, furniture and walls (used with skin.vert and static.vert).
// A warm key light from above (a ceiling lamp), symmetric about x = 0 so that a mirrored
// scene renders mirrored; warm hemispheric ambient; wrapped diffuse for a soft, skin-like
// falloff.
//
// Inputs:
//   v_world_position  vec3  world-space position, m
//   v_normal          vec3  world-space normal
// Uniforms:
//   u_color            vec3   base colour, sRGB 0..1
//   u_alpha            float  opacity (1 opaque; < 1 for the ghost hand)
//   u_camera_position  vec3   eye position, world, m
//   u_light_direction  vec3   unit vector towards the key light, world
//   u_wrap             float  diffuse wrap (0 = Lambert, ~0.4 = skin)
//   u_specular         float  specular strength
// With LIMB defined (skinned limbs), also:
//   v_distal            float  distance along the limb from its root, bind pose, m
//   u_virtual_from_m    float  where the virtual part begins (< 0: all virtual, large: none)
//   u_virtual_rgb       vec3   tint of the virtual part, sRGB
//   u_virtual_mix       float  0 = virtual part drawn identically, > 0 = tinted with a seam
//   u_residual_visible  float  1 = draw the residual part, 0 = only the virtual part
//   u_sleeve_to_m       float  clothing covers the limb from its root up to here, m (< 0: none)
//   u_sleeve_rgb        vec3   the clothing's colour, sRGB
//   u_tension           float  0..1: how tense the limb is shown (biofeedback), a warm glow
// Without LIMB (static meshes), also:
//   u_material          int    0 matte, 1 wood planks along x, 2 window (daylight, unlit)
// Outputs:
//   out_color  vec4  sRGB colour with alpha

in vec3 v_world_position;
in vec3 v_normal;

uniform vec3 u_color;
uniform float u_alpha;
uniform vec3 u_camera_position;
uniform vec3 u_light_direction;
uniform float u_wrap;
uniform float u_specular;

#ifdef LIMB
in float v_distal;
uniform float u_virtual_from_m;
uniform vec3 u_virtual_rgb;
uniform float u_virtual_mix;
uniform float u_residual_visible;
uniform float u_sleeve_to_m;
uniform vec3 u_sleeve_rgb;
uniform float u_tension;
#else
uniform int u_material;
#endif

out vec4 out_color;

const vec3 TENSION_RGB = vec3(0.95, 0.36, 0.22);

float hash(float x) { return fract(sin(x * 12.9898) * 43758.5453); }

void main() {
    vec3 n = normalize(v_normal);
    if (!gl_FrontFacing) n = -n;
    vec3 v = normalize(u_camera_position - v_world_position);
    vec3 l = normalize(u_light_direction);
    vec3 color = u_color;
    float wrap = u_wrap;
    float specular_strength = u_specular;
#ifdef LIMB
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
        specular_strength = 0.02;
    }
#else
    if (u_material == 2) {  // daylight through a window: brighter towards the top
        float sky = clamp(v_world_position.y * 0.35 + 0.5, 0.0, 1.0);
        out_color = vec4(mix(u_color * 0.92, vec3(1.0), 0.35 * sky), u_alpha);
        return;
    }
    if (u_material == 1) {  // planks 12 cm wide along x, each a little different, with grain
        float plank = floor(v_world_position.z / 0.12);
        float grain = sin(v_world_position.z * 260.0 + 2.0 * sin(abs(v_world_position.x) * 6.0
                          + plank * 3.1)) * 0.5 + 0.5;
        float gap = smoothstep(0.0, 0.003, fract(v_world_position.z / 0.12) * 0.12);
        color *= (0.92 + 0.10 * hash(plank)) * (0.97 + 0.03 * grain) * (0.8 + 0.2 * gap);
    }
#endif
    vec3 base = pow(color, vec3(2.2));

    float diffuse = max((dot(n, l) + wrap) / (1.0 + wrap), 0.0);
    vec3 sky = vec3(0.56, 0.55, 0.52);
    vec3 ground = vec3(0.26, 0.22, 0.19);
    vec3 ambient = mix(ground, sky, 0.5 + 0.5 * n.y);
    vec3 h = normalize(l + v);
    float specular = specular_strength * pow(max(dot(n, h), 0.0), 32.0) * step(0.0, dot(n, l));
    float rim = pow(1.0 - max(dot(n, v), 0.0), 3.0) * 0.10;

    // a soft fill from behind the viewer (the room's light bouncing off the wall behind)
    float fill = max(dot(n, vec3(0.0, 0.33, 0.94)), 0.0) * 0.30;
    vec3 linear = base * (ambient * 0.60 + vec3(1.0, 0.95, 0.86) * diffuse * 0.85 + fill)
                + vec3(specular) + base * rim;
    out_color = vec4(pow(linear, vec3(1.0 / 2.2)), u_alpha);
}
