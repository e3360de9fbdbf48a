#version 330 core
// The scenery (trunk, furniture, floor, walls), baked in world space. Its surfaces are flat
// or gently curved and the lights do not move, so the lighting is computed here, per vertex,
// and the fragment shader only adds the surface pattern (wood) - the room covers most of the
// screen, and per-pixel lighting of it cost more than the limbs on a software rasteriser.
//
// Inputs:
//   in_position (location 0) vec3   position, model space, m
//   in_normal   (location 1) vec3   normal, model space
//   in_color_0  (location 5) vec3   base colour, sRGB 0..1
//   in_material (location 6) float  material (mirrorvr.render.scene.MATERIALS index)
// Uniforms:
//   u_model            mat4   model -> world (rigid; the scenery is baked with u_model = I)
//   u_view             mat4   world -> eye
//   u_projection       mat4   eye -> clip
//   u_light_direction  vec3   unit vector towards the key light, world
// Outputs:
//   v_world_position  vec3      world-space position, m
//   v_light           vec3      linear-light factor the base colour is multiplied by
//   v_color           vec3      in_color_0
//   v_material        flat int  in_material

layout(location = 0) in vec3 in_position;
layout(location = 1) in vec3 in_normal;
layout(location = 5) in vec3 in_color_0;
layout(location = 6) in float in_material;

uniform mat4 u_model;
uniform mat4 u_view;
uniform mat4 u_projection;
uniform vec3 u_light_direction;

out vec3 v_world_position;
out vec3 v_light;
out vec3 v_color;
flat out int v_material;

#include "lighting.glsl"

void main() {
    vec4 world = u_model * vec4(in_position, 1.0);
    vec3 n = normalize(mat3(u_model) * in_normal);
    v_world_position = world.xyz;
    v_light = soft_light(n, u_light_direction, 0.3);
    v_color = in_color_0;
    v_material = int(in_material + 0.5);
    gl_Position = u_projection * u_view * world;
}
