"""EMG acquisition and decoding. Pure numpy/scipy except the BrainFlow edge module."""
