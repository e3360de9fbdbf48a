#version 330 core
// Soft contact shadow of one capsule on a horizontal surface, multiplied into the frame
// (blend: destination * source): ambient occlusion of the capsule (Quilez's sphere
// occlusion at the capsule's nearest point: dark where it touches, gone within a few radii)
// and its soft shadow from the key light (distance of the light ray to the capsule).
//
// Inputs:
//   v_world_position  vec3      point on the receiving surface, m
//   v_capsule         flat int  which capsule
// Uniforms:
//   u_capsule_a, u_capsule_b, u_light_direction  as in shadow.vert
//   u_occlusion        float  strength of the contact occlusion (0..1)
//   u_shadow           float  strength of the light's shadow (0..1)
// Outputs:
//   out_color  vec4  the factor the surface colour is multiplied by

#ifndef MAX_CAPSULES
#define MAX_CAPSULES 64
#endif

in vec3 v_world_position;
flat in int v_capsule;

uniform vec4 u_capsule_a[MAX_CAPSULES];
uniform vec4 u_capsule_b[MAX_CAPSULES];
uniform vec3 u_light_direction;
uniform float u_occlusion;
uniform float u_shadow;

out vec4 out_color;

void main() {
    vec3 p = v_world_position;
    vec3 a = u_capsule_a[v_capsule].xyz;
    vec3 b = u_capsule_b[v_capsule].xyz;
    float r = u_capsule_a[v_capsule].w;
    vec3 ba = b - a;
    float baba = max(dot(ba, ba), 1e-10);
    // contact occlusion, normal = +y
    float t = clamp(dot(p - a, ba) / baba, 0.0, 1.0);
    vec3 d = a + t * ba - p;
    float dist = max(length(d), r);
    float occlusion = clamp(d.y / dist * (r * r) / (dist * dist), 0.0, 1.0);
    // soft shadow: closest approach of the ray p + s * l (s > 0) to the segment
    vec3 l = normalize(u_light_direction);
    vec3 oa = p - a;
    float oad = dot(oa, l), dba = dot(l, ba), oaba = dot(oa, ba);
    float denom = max(baba - dba * dba, 1e-10);
    float s = max((-oad * baba + dba * oaba) / denom, 0.0);
    float u = clamp((oaba - oad * dba) / denom, 0.0, 1.0);
    float gap = length(a + ba * u - (p + l * s)) - r;
    float lit = clamp(gap / (0.35 * s + 0.004) + 0.5, 0.0, 1.0);
    lit = lit * lit * (3.0 - 2.0 * lit);
    float factor = (1.0 - u_occlusion * occlusion) * (1.0 - u_shadow * (1.0 - lit));
    out_color = vec4(vec3(factor), 1.0);
}
