"""A comma list of positive integers on the command line (``--shots 1,5``, ``--train-sizes 160,400``)."""

from __future__ import annotations

from ..errors import UserError


def parse_positive_ints(text: str, option: str, example: str) -> tuple[int, ...]:
    """'1,5' -> (1, 5): unique, in the order given; one line naming ``option`` otherwise."""
    message = f"{option} must be a positive integer or a comma list such as {example}, got '{text}'"
    try:
        values = tuple(int(part) for part in str(text).split(",") if part.strip())
    except ValueError:
        raise UserError(message) from None
    if not values or any(v < 1 for v in values):
        raise UserError(message)
    return tuple(dict.fromkeys(values))
