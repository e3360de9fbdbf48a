#version 330 core
// Soft contact shadows: one decal per limb capsule on the horizontal surface the limbs rest
// on (instanced: gl_InstanceID picks the capsule, 4 vertices make its footprint quad).
//
// Inputs:   none (draw 4 vertices x n instances with an empty vertex array)
// Uniforms:
//   u_capsule_a        vec4[MAX_CAPSULES]  capsule start (xyz, world m) and radius (w, m)
//   u_capsule_b        vec4[MAX_CAPSULES]  capsule end (xyz, world m)
//   u_plane_y          float  height of the receiving surface, m
//   u_plane_rect       vec4   its extent: x min, z min, x max, z max, m (decals stop there)
//   u_light_direction  vec3   unit vector towards the key light
//   u_view, u_projection  mat4
// Outputs:
//   v_world_position  vec3        point on the receiving surface, m
//   v_capsule         flat int    which capsule

#ifndef MAX_CAPSULES
#define MAX_CAPSULES 64
#endif

uniform vec4 u_capsule_a[MAX_CAPSULES];
uniform vec4 u_capsule_b[MAX_CAPSULES];
uniform float u_plane_y;
uniform vec4 u_plane_rect;
uniform vec3 u_light_direction;
uniform mat4 u_view;
uniform mat4 u_projection;

out vec3 v_world_position;
flat out int v_capsule;

void main() {
    vec3 a = u_capsule_a[gl_InstanceID].xyz;
    vec3 b = u_capsule_b[gl_InstanceID].xyz;
    float r = u_capsule_a[gl_InstanceID].w;
    float ha = max(a.y - u_plane_y, 0.0);
    float hb = max(b.y - u_plane_y, 0.0);
    // the footprint: under the capsule and along the light, padded by the soft edge
    vec2 along = -u_light_direction.xz / max(u_light_direction.y, 0.3);
    vec2 lo = min(min(a.xz, b.xz), min(a.xz + along * ha, b.xz + along * hb));
    vec2 hi = max(max(a.xz, b.xz), max(a.xz + along * ha, b.xz + along * hb));
    float pad = 2.5 * r + 0.4 * max(ha, hb);
    vec2 corner = vec2(float(gl_VertexID & 1), float((gl_VertexID >> 1) & 1));
    lo = max(lo - pad, u_plane_rect.xy);
    hi = min(hi + pad, u_plane_rect.zw);
    vec2 xz = mix(lo, max(hi, lo), corner);
    v_world_position = vec3(xz.x, u_plane_y, xz.y);
    v_capsule = gl_InstanceID;
    gl_Position = u_projection * u_view * vec4(v_world_position, 1.0);
}
