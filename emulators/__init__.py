"""Device twins for the tests: an OpenBCI Cyton, an openEMSstim board and a RehaStim 2, each
on a pseudo-terminal answering like the firmware, so the unchanged drivers can be exercised
without hardware (as BrainFlow's ``emulator/brainflow_emulator``).

Not part of the shipped package: ``mirrorvr`` never imports this; the tests do (the pytest
configuration puts the repository root on ``sys.path``).
"""
