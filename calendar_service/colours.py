"""Colours for people: calendar.yaml's colour names as hex, and text that contrasts with them."""

from __future__ import annotations

# The CSS colour keywords (CSS Color Module Level 3's extended list, 147 names), as the
# ICS COLOR property takes them (RFC 7986); pydantic, already a dependency, carries the table.
from pydantic.color import COLORS_BY_NAME

NEAR_BLACK = "0b0c0c"  # the text colour of the pages
WHITE = "ffffff"
BLACK = "000000"
AA_TEXT = 4.5  # WCAG 2.2 SC 1.4.3: the least contrast of normal-size text


def hex_digits(colour: str) -> str | None:
    """Six lower-case hex digits for `#rrggbb` or a CSS colour name (as ICS COLOR takes).

    None for a name CSS does not define: the item is then shown without a colour.
    """
    if colour.startswith("#"):
        return colour[1:].lower()
    rgb = COLORS_BY_NAME.get(colour)
    return None if rgb is None else "".join(f"{channel:02x}" for channel in rgb[:3])


def relative_luminance(colour: str) -> float:
    """WCAG 2.2 relative luminance of six hex digits."""

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(int(colour[i : i + 2], 16) / 255) for i in (0, 2, 4))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    """WCAG 2.2 contrast ratio of two colours given as six hex digits, 1 to 21."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)))[::-1]
    return (lighter + 0.05) / (darker + 0.05)


def text_on(background: str) -> str:
    """The text colour (six hex digits) to write on `background`: AA contrast, always.

    White or the pages' near-black, whichever contrasts more; on the few mid-tones where
    neither reaches 4.5:1 (near-black falls short by a little), pure black, which does.
    """
    best = max((WHITE, NEAR_BLACK), key=lambda text: contrast(text, background))
    return best if contrast(best, background) >= AA_TEXT else BLACK
