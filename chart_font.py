"""The one font of every PNG chart: Pillow's default, scaled where Pillow can (>= 10.1).
Its own module so torch-free charts (engine layers) need not import the stage tables."""

from __future__ import annotations

from PIL import ImageFont


def chart_font(size: int = 13):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed bitmap font only
        return ImageFont.load_default()
