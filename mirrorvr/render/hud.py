"""The heads-up texts: the cue (large, top centre), the status line (small, bottom left) and
the therapist's frame-timing overlay (small, bottom right), drawn with the
:class:`~mirrorvr.render.overlay.Overlay` (each text is uploaded once while it stays the
same)."""

from __future__ import annotations

from mirrorvr.render.overlay import Overlay, render_text_rgba, text_size

__all__ = ["CUE_RGB", "STATUS_RGB", "TIMING_RGB", "draw_hud", "render_text_rgba"]

CUE_RGB = (255, 255, 255)
STATUS_RGB = (235, 240, 245)
TIMING_RGB = (255, 236, 150)
#: A soft dark band behind the cue, so it reads over the bright window too.
CUE_BACK_RGBA = (0.08, 0.10, 0.13, 0.45)


def text_sizes_px(height_px: int) -> tuple[int, int]:
    """(cue, status) text sizes for a viewport ``height_px`` tall."""
    return max(18, int(height_px * 0.075)), max(12, int(height_px * 0.035))


def draw_hud(overlay: Overlay, cue_text: str, status_text: str, timing_text: str = "") -> None:
    """Draw the texts into the overlay's current viewport (empty text draws nothing).

    A cue of several lines ("Open your hand\\nTracking lost: ...") is drawn line under line,
    the first at the cue's size, the others smaller, on one band."""
    w, h = overlay.width, overlay.height
    cue_px, status_px = text_sizes_px(h)
    margin = 0.03 * h
    lines = [line for line in cue_text.splitlines() if line.strip()]
    sizes = [cue_px] + [max(status_px, int(0.6 * cue_px))] * (len(lines) - 1)
    if lines:
        dims = [text_size(line, px) for line, px in zip(lines, sizes, strict=True)]
        tw, th = max(d[0] for d in dims), sum(d[1] for d in dims)
        pad = 0.35 * dims[0][1]
        overlay.rect(w / 2 - tw / 2 - pad, margin - pad / 2, tw + 2 * pad, th + pad,
                     CUE_BACK_RGBA, radius_px=(dims[0][1] + pad) / 2)
        y = margin
        for line, px, (_, line_h) in zip(lines, sizes, dims, strict=True):
            overlay.text(line, px, CUE_RGB, w / 2, y, "midtop")
            y += line_h
    overlay.text(status_text, status_px, STATUS_RGB, margin, h - margin, "bottomleft")
    overlay.text(timing_text, status_px, TIMING_RGB, w - margin, h - margin, "bottomright")
