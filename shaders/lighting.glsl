// The room's light, shared by lit.frag (per pixel, skin) and static.vert (per vertex, the
// scenery) through `#include "lighting.glsl"`: a warm key light from above (a ceiling
// lamp), a soft fill from behind the viewer (light bouncing off the wall behind), warm
// hemispheric ambient, and wrapped diffuse for a soft falloff. Symmetric about x = 0.
//
// soft_light(n, l, wrap): n the unit normal, l the unit vector towards the key light,
// wrap the diffuse wrap (0 = Lambert, ~0.4 = skin); returns the linear-light factor that
// the base colour (linear) is multiplied by.

vec3 soft_light(vec3 n, vec3 l, float wrap) {
    float diffuse = max((dot(n, l) + wrap) / (1.0 + wrap), 0.0);
    vec3 ambient = mix(vec3(0.26, 0.22, 0.19), vec3(0.56, 0.55, 0.52), 0.5 + 0.5 * n.y);
    float fill = max(dot(n, vec3(0.0, 0.33, 0.94)), 0.0) * 0.30;
    return ambient * 0.60 + vec3(1.0, 0.95, 0.86) * (diffuse * 0.85) + vec3(fill);
}
