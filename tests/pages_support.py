"""Shared by the page tests: CSS colour values and the WCAG contrast, written out here."""

from __future__ import annotations

# The bundled calendar's colour names as CSS defines them, written out from the spec
# (https://www.w3.org/TR/css-color-3/#svg-color) rather than read from the service's table.
CSS_COLOURS = {
    "purple": "800080",
    "teal": "008080",
    "green": "008000",
    "blue": "0000ff",
    "red": "ff0000",
    "navy": "000080",
    "orange": "ffa500",
    "gray": "808080",
}


def wcag_contrast(first: str, second: str) -> float:
    """WCAG 2.2 contrast ratio, written out here independently of the service's."""

    def luminance(colour: str) -> float:
        def linear(byte: str) -> float:
            value = int(byte, 16) / 255
            return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

        red, green, blue = (linear(colour[i : i + 2]) for i in (0, 2, 4))
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue

    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)
