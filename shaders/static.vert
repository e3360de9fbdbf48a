#version 330 core
// Rigid, unskinned mesh (table, floor).
//
// Inputs:
//   in_position (location 0) vec3  position, model space, m
//   in_normal   (location 1) vec3  normal, model space
// Uniforms:
//   u_model       mat4  model -> world (may scale; normals use the inverse transpose)
//   u_view        mat4  world -> eye
//   u_projection  mat4  eye -> clip
// Outputs:
//   v_world_position  vec3  world-space position, m
//   v_normal          vec3  world-space normal (not normalised)

layout(location = 0) in vec3 in_position;
layout(location = 1) in vec3 in_normal;

uniform mat4 u_model;
uniform mat4 u_view;
uniform mat4 u_projection;

out vec3 v_world_position;
out vec3 v_normal;

void main() {
    vec4 world = u_model * vec4(in_position, 1.0);
    v_world_position = world.xyz;
    v_normal = transpose(inverse(mat3(u_model))) * in_normal;
    gl_Position = u_projection * u_view * world;
}
