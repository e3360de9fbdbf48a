#version 330 core
// Linear-blend-skinned mesh (hands and forearms).
//
// Inputs (glTF attribute names, fixed locations shared by every mesh):
//   in_position  (location 0) vec3   bind-pose position, model space, m
//   in_normal    (location 1) vec3   bind-pose normal, model space
//   in_joints_0  (location 2) uvec4  joint indices
//   in_weights_0 (location 3) vec4   joint weights, sum 1
//   in_distal    (location 4) float  distance from the root joint along the limb, bind pose, m
// Uniforms:
//   u_model            mat4  model -> world (placement of the forearm on the table)
//   u_view             mat4  world -> eye
//   u_projection       mat4  eye -> clip
//   u_joint_matrices   mat4[MAX_JOINTS]  skinning matrices (joint world @ inverse bind), model space
//   u_normal_matrices  mat4[MAX_JOINTS]  (SCALED_JOINTS only) inverse transpose of each
//                      skinning matrix's 3x3, per joint on the CPU (an inverse per vertex
//                      cost more than the rest of the shader on a software rasteriser)
// Outputs:
//   v_world_position   vec3  world-space position, m
//   v_normal           vec3  world-space normal (not normalised)
//   v_distal           float in_distal, passed through (residual / virtual part split)
// Defines:
//   CPU_SKINNED  positions/normals arrive already skinned; joints, weights and
//                u_joint_matrices are unused (the benchmark's naive peer).
//   SCALED_JOINTS  the skinning matrices scale segments (a patient's measured sizes): normals
//                  use u_normal_matrices; without it the joints are rigid and normals follow
//                  the blended skinning matrix, as in plain linear blend skinning.

#ifndef MAX_JOINTS
#define MAX_JOINTS 32
#endif

layout(location = 0) in vec3 in_position;
layout(location = 1) in vec3 in_normal;
layout(location = 4) in float in_distal;
#ifndef CPU_SKINNED
layout(location = 2) in uvec4 in_joints_0;
layout(location = 3) in vec4 in_weights_0;
uniform mat4 u_joint_matrices[MAX_JOINTS];
#ifdef SCALED_JOINTS
uniform mat4 u_normal_matrices[MAX_JOINTS];
#endif
#endif

uniform mat4 u_model;
uniform mat4 u_view;
uniform mat4 u_projection;

out vec3 v_world_position;
out vec3 v_normal;
out float v_distal;

void main() {
    v_distal = in_distal;
#ifdef CPU_SKINNED
    vec4 position = vec4(in_position, 1.0);
    vec3 normal = in_normal;
#else
    mat4 skin = in_weights_0.x * u_joint_matrices[in_joints_0.x]
              + in_weights_0.y * u_joint_matrices[in_joints_0.y]
              + in_weights_0.z * u_joint_matrices[in_joints_0.z]
              + in_weights_0.w * u_joint_matrices[in_joints_0.w];
    vec4 position = skin * vec4(in_position, 1.0);
#ifdef SCALED_JOINTS
    mat4 normal_matrix = in_weights_0.x * u_normal_matrices[in_joints_0.x]
                       + in_weights_0.y * u_normal_matrices[in_joints_0.y]
                       + in_weights_0.z * u_normal_matrices[in_joints_0.z]
                       + in_weights_0.w * u_normal_matrices[in_joints_0.w];
    vec3 normal = mat3(normal_matrix) * in_normal;
#else
    vec3 normal = mat3(skin) * in_normal;
#endif
#endif
    vec4 world = u_model * position;
    v_world_position = world.xyz;
    // The placement is rigid, possibly a reflection (mirror views): normals follow mat3(u_model).
    v_normal = mat3(u_model) * normal;
    gl_Position = u_projection * u_view * world;
}
