"""Draw the integration's brand images into custom_components/stekker/brand/.

Since Home Assistant 2026.3 a custom integration ships its own icon and logo there
(the brands repository no longer takes custom integrations). A plug ("stekker" is
Dutch for plug) in a rounded square; the logo adds the name. Run it again after a
change: `.venv/bin/python scripts/brand.py`; a test checks the files' sizes.
"""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BRAND = (
    Path(__file__).resolve().parent.parent / "custom_components" / "stekker" / "brand"
)
GREEN = (0, 150, 110, 255)
WHITE = (255, 255, 255, 255)
INK = (30, 40, 45, 255)


def icon(size: int) -> Image.Image:
    """A white plug on a green rounded square, `size` pixels wide and high."""
    scale = size / 256
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
        return (
            round(x0 * scale),
            round(y0 * scale),
            round(x1 * scale),
            round(y1 * scale),
        )

    draw.rounded_rectangle(box(8, 8, 248, 248), radius=round(48 * scale), fill=GREEN)
    # Two pins, the plug's body, and its cable.
    draw.rounded_rectangle(box(92, 40, 112, 96), radius=round(6 * scale), fill=WHITE)
    draw.rounded_rectangle(box(144, 40, 164, 96), radius=round(6 * scale), fill=WHITE)
    draw.rounded_rectangle(box(68, 88, 188, 168), radius=round(24 * scale), fill=WHITE)
    draw.rectangle(box(116, 164, 140, 216), fill=WHITE)
    # A lightning bolt cut out of the body.
    bolt = [
        (132, 100),
        (108, 134),
        (126, 134),
        (118, 160),
        (148, 122),
        (130, 122),
        (140, 100),
    ]
    draw.polygon([(x * scale, y * scale) for x, y in bolt], fill=GREEN)
    return image


def logo(height: int) -> Image.Image:
    """The icon with the name beside it, `height` pixels high."""
    font = ImageFont.load_default(size=round(height * 0.55))
    text = "Stekker"
    left, top, right, bottom = font.getbbox(text)
    gap = round(height * 0.2)
    width = height + gap + (right - left) + round(height * 0.1)
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.paste(icon(height), (0, 0))
    draw = ImageDraw.Draw(image)
    draw.text(
        (height + gap - left, (height - (bottom - top)) / 2 - top),
        text,
        font=font,
        fill=INK,
    )
    return image


def main() -> None:
    BRAND.mkdir(parents=True, exist_ok=True)
    icon(256).save(BRAND / "icon.png", optimize=True)
    icon(512).save(BRAND / "icon@2x.png", optimize=True)
    logo(128).save(BRAND / "logo.png", optimize=True)
    logo(256).save(BRAND / "logo@2x.png", optimize=True)


if __name__ == "__main__":
    main()
