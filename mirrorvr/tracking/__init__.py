"""Intact-limb pose sources for mirror mode."""
