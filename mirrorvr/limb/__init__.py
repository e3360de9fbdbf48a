"""Skeletons, joint limits, movement classes -> poses, mirroring, kinematics. Pure numpy, no GL."""
