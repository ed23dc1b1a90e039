"""Which input sizes give a valid HSNet pyramid.

Feature sizes: ResNet's strided convs round up, n_p = ceil(H / 2^(p+2)) for p = 1, 2, 3
(layer2..layer4: H/8, H/16, H/32); VGG's max-pools round down, n_p = floor(H / 2^(p+2)).
Each squeezing conv with odd kernel k, padding k//2 and stride s maps a support size n to
ceil(n / s), so the levels end at ceil(n3 / 8), ceil(n2 / 16), ceil(n1 / 32); the mixing
blocks add them, so those three must agree (in height and in width).
"""

from __future__ import annotations

from ..errors import UserError

MIN_SIDE = 32  # the deepest level (H/32) needs a whole pixel; every command refuses less


def level_sizes(size: int, backbone: str) -> tuple[int, int, int]:
    """(n1, n2, n3): the side of the C1, C2, C3 feature maps for an input side ``size``."""
    if backbone == "vgg16":
        return size // 8, size // 16, size // 32
    return -(-size // 8), -(-size // 16), -(-size // 32)


def squeezed_support_sizes(size: int, backbone: str) -> tuple[int, int, int]:
    n1, n2, n3 = level_sizes(size, backbone)
    ceil = lambda a, b: -(-a // b)  # noqa: E731
    return ceil(n1, 32), ceil(n2, 16), ceil(n3, 8)


def check_min_side(size: int) -> None:
    """UserError for a side below :data:`MIN_SIDE`, whatever the backbone."""
    if int(size) < MIN_SIDE:
        raise UserError(f"image size {size} is too small: at least {MIN_SIDE} pixels a side")


def check_image_size(height: int, width: int, backbone: str) -> None:
    """Raise UserError unless (height, width) gives a valid pyramid for ``backbone``."""
    height, width = int(height), int(width)  # sizes arrive as 0-d tensors while tracing
    for side in (height, width):
        check_min_side(side)
        n1, n2, n3 = level_sizes(side, backbone)
        if len(set(squeezed_support_sizes(side, backbone))) != 1:
            raise UserError(
                f"image size {height}x{width} does not give a valid HSNet pyramid for {backbone}: "
                f"feature maps {n1}/{n2}/{n3} squeeze to support grids "
                f"{squeezed_support_sizes(side, backbone)}, which must agree (400, 384, 128 and 96 work)"
            )
