"""Rendering: window (pygame, on screen or headless), shaders, GPU meshes, skinning, scene,
HUD, capture.

Only this package imports pygame and OpenGL, and only in its edge modules; ``scene`` is plain
data. Importing ``mirrorvr.render`` or ``mirrorvr.render.scene`` imports neither.
"""
