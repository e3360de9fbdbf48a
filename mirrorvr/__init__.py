"""mirrorvr: mirror therapy and phantom motor execution against phantom limb pain.

Importing the package opens no window, board or port and imports neither pygame nor OpenGL;
the command line (:mod:`mirrorvr.cli`) is the only place that builds concrete backends.
"""

__version__ = "0.1.0"
