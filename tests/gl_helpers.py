"""Pixel helpers for the GL tests: render a state, and find the limbs' pixels.

The room is warm (wood, cream walls), so a colour threshold cannot tell skin from table.
:func:`limb_mask` renders the state twice, the second time with the patient's skin tone
(``Appearance.skin_rgb``, a real setting) changed to green: the pixels that change are the
limbs' skin, whatever the room looks like.
"""

import dataclasses

import numpy as np

MARK_RGB = (0.15, 0.85, 0.25)


def render(renderer, state):
    """Draw ``state``, read the frame back, swap; (h, w, 3) uint8."""
    renderer.draw(state)
    pixels = renderer.window.read_pixels()
    renderer.window.swap()
    return pixels


def limb_mask(renderer, state, threshold=60):
    """(mask (h, w) bool of the limbs' skin, the normal frame (h, w, 3) uint8)."""
    normal = render(renderer, state)
    saved = renderer.appearance
    renderer.appearance = dataclasses.replace(saved, skin_rgb=MARK_RGB)
    try:
        marked = render(renderer, state)
    finally:
        renderer.appearance = saved
    return np.abs(normal.astype(int) - marked.astype(int)).sum(axis=2) > threshold, normal


def symmetric_iou(mask):
    """Intersection over union of ``mask`` and its left-right mirror image."""
    flipped = mask[:, ::-1]
    return (mask & flipped).sum() / max((mask | flipped).sum(), 1)
