#version 330 core
// Soft Blinn-Phong lighting for skin and furniture (used with skin.vert and static.vert).
// One key light from above and behind the viewer, symmetric about x = 0 so that a mirrored
// scene renders mirrored; hemispheric ambient; wrapped diffuse for a soft, skin-like falloff.
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
#endif

out vec4 out_color;

void main() {
    vec3 n = normalize(v_normal);
    if (!gl_FrontFacing) n = -n;
    vec3 v = normalize(u_camera_position - v_world_position);
    vec3 l = normalize(u_light_direction);
    vec3 color = u_color;
#ifdef LIMB
    float virtual_part = u_virtual_from_m < 0.0
        ? 1.0 : smoothstep(u_virtual_from_m - 0.006, u_virtual_from_m + 0.006, v_distal);
    if (virtual_part < 0.5 && u_residual_visible < 0.5) discard;
    color = mix(color, u_virtual_rgb, u_virtual_mix * virtual_part);
    float seam = 1.0 - smoothstep(0.002, 0.007, abs(v_distal - u_virtual_from_m));
    color *= 1.0 - 0.45 * u_virtual_mix * seam;
#endif
    vec3 base = pow(color, vec3(2.2));

    float diffuse = max((dot(n, l) + u_wrap) / (1.0 + u_wrap), 0.0);
    vec3 sky = vec3(0.50, 0.55, 0.62);
    vec3 ground = vec3(0.22, 0.22, 0.24);
    vec3 ambient = mix(ground, sky, 0.5 + 0.5 * n.y);
    vec3 h = normalize(l + v);
    float specular = u_specular * pow(max(dot(n, h), 0.0), 32.0) * step(0.0, dot(n, l));
    float rim = pow(1.0 - max(dot(n, v), 0.0), 3.0) * 0.12;

    vec3 linear = base * (ambient * 0.55 + vec3(1.0, 0.97, 0.92) * diffuse * 0.85)
                + vec3(specular) + base * rim;
    out_color = vec4(pow(linear, vec3(1.0 / 2.2)), u_alpha);
}
