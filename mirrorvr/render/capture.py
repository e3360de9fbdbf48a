"""Still images of rendered frames: PNG files and labelled contact sheets (pygame surfaces)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from mirrorvr.errors import RenderError

logger = logging.getLogger(__name__)


def _pygame():
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    return pygame


def _check_rgb(pixels: np.ndarray, what: str) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise RenderError(f"{what}: expected (h, w, 3) uint8, got {pixels.shape} {pixels.dtype}")
    return np.ascontiguousarray(pixels)


def _surface(pixels: np.ndarray):
    pygame = _pygame()
    h, w, _ = pixels.shape
    return pygame.image.frombuffer(pixels.tobytes(), (w, h), "RGB")


def save_png(pixels: np.ndarray, path) -> Path:
    """Write ``pixels`` (h, w, 3) uint8, top row first, as a PNG; return the path."""
    pixels = _check_rgb(pixels, "pixels")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _pygame().image.save(_surface(pixels), str(path))
    logger.debug("saved %s (%dx%d)", path, pixels.shape[1], pixels.shape[0])
    return path


def contact_sheet(
    images: list[np.ndarray], labels: list[str], path, columns: int = 3, thumb_width: int = 480
) -> Path:
    """Write a PNG grid of ``images`` (each (h, w, 3) uint8) with a label under each.

    Thumbnails keep each image's aspect ratio at ``thumb_width`` pixels wide.
    """
    if len(images) != len(labels) or not images:
        raise RenderError(
            f"contact_sheet: {len(images)} images and {len(labels)} labels "
            "(need the same non-zero number)"
        )
    if columns < 1 or thumb_width < 16:
        raise RenderError(
            f"contact_sheet: columns={columns!r}, thumb_width={thumb_width!r} too small"
        )
    pygame = _pygame()
    if not pygame.font.get_init():
        pygame.font.init()
    font = pygame.font.Font(None, max(16, thumb_width // 20))
    thumbs = []
    for i, image in enumerate(images):
        image = _check_rgb(image, f"images[{i}]")
        h = max(1, round(image.shape[0] * thumb_width / image.shape[1]))
        thumbs.append(pygame.transform.smoothscale(_surface(image), (thumb_width, h)))
    label_h = font.get_linesize() + 8
    cell_h = max(t.get_height() for t in thumbs) + label_h
    rows = -(-len(thumbs) // columns)
    pad = 6
    sheet = pygame.Surface((columns * (thumb_width + pad) + pad, rows * (cell_h + pad) + pad))
    sheet.fill((30, 34, 40))
    for i, (thumb, label) in enumerate(zip(thumbs, labels, strict=True)):
        x = pad + (i % columns) * (thumb_width + pad)
        y = pad + (i // columns) * (cell_h + pad)
        sheet.blit(thumb, (x, y))
        sheet.blit(font.render(label, True, (230, 230, 230)), (x + 4, y + thumb.get_height() + 4))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pygame.image.save(sheet, str(path))
    return path
