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

out vec4 out_color;

void main() {
    vec3 n = normalize(v_normal);
    if (!gl_FrontFacing) n = -n;
    vec3 v = normalize(u_camera_position - v_world_position);
    vec3 l = normalize(u_light_direction);
    vec3 base = pow(u_color, vec3(2.2));

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
