"""Every simulated twin the default run uses: the demo's patient, and (as they move here)
the simulated patient, scripted intact limb, scripted rater and simulated stimulator."""
