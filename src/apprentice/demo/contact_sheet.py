"""A contact sheet: images side by side in a titled grid, one column per kind of image.

It shows at a glance what the apprentice made beside the artist's own before and after.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

MAX_CELL = 320  # px, the longer side of one cell
GUTTER = 8  # px between cells and around the sheet
CHECKER = 8  # px, the squares shown behind transparent pixels
HEADER_SIZE, FOOTER_SIZE = 16, 13  # font sizes in px
INK, PAPER, FRAME, SQUARE = (40, 40, 40), (255, 255, 255), (215, 215, 215), (222, 222, 222)


def contact_sheet(rows: list[list[Image.Image]], headers: list[str], footer: str = "") -> Image.Image:
    """Lay out `rows` of images under one title per column, scaled to a common cell, footer text below."""
    if not rows or not headers or any(len(row) != len(headers) for row in rows):
        raise ValueError("A contact sheet needs at least one row and one column title, one image per title.")
    cell = _cell_size([image for row in rows for image in row])
    header_font, footer_font = ImageFont.load_default(HEADER_SIZE), ImageFont.load_default(FOOTER_SIZE)
    top = GUTTER + sum(header_font.getmetrics()) + GUTTER  # ascent + descent: the same for any titles
    bottom = _text_height(footer, footer_font) + GUTTER if footer else 0
    left = [GUTTER + column * (cell[0] + GUTTER) for column in range(len(headers))]
    height = top + len(rows) * (cell[1] + GUTTER) + bottom
    sheet = Image.new("RGB", (left[-1] + cell[0] + GUTTER, height), PAPER)
    draw = ImageDraw.Draw(sheet)
    for x, title in zip(left, headers, strict=True):
        draw.text((x + cell[0] / 2, GUTTER), title, fill=INK, font=header_font, anchor="ma")
    for index, row in enumerate(rows):
        for x, image in zip(left, row, strict=True):
            _place(sheet, _fit(image, cell), (x, top + index * (cell[1] + GUTTER)), cell)
    if footer:
        draw.multiline_text((GUTTER, sheet.height - bottom), footer, fill=INK, font=footer_font)
    return sheet


def _cell_size(images: list[Image.Image]) -> tuple[int, int]:
    """The box every image is fitted into: the largest image, scaled so its longer side is MAX_CELL.

    Small images (patches, sprites) are enlarged by a whole factor, so their pixels stay square.
    """
    width, height = max(image.width for image in images), max(image.height for image in images)
    scale = MAX_CELL / max(width, height)
    if scale >= 2:
        scale = int(scale)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _place(sheet: Image.Image, image: Image.Image, corner: tuple[int, int], cell: tuple[int, int]) -> None:
    """Paste the image centred in its cell, with a hairline frame so white pictures keep their edges."""
    x, y = corner[0] + (cell[0] - image.width) // 2, corner[1] + (cell[1] - image.height) // 2
    sheet.paste(image, (x, y))
    ImageDraw.Draw(sheet).rectangle((x - 1, y - 1, x + image.width, y + image.height), outline=FRAME)


def _fit(image: Image.Image, cell: tuple[int, int]) -> Image.Image:
    """The image scaled to fit the cell, keeping its aspect, with transparency shown over a checkerboard."""
    scale = min(cell[0] / image.width, cell[1] / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    resample = Image.Resampling.NEAREST if scale >= 2 else Image.Resampling.LANCZOS  # big pixels stay crisp
    rgba = image.convert("RGBA").resize(size, resample)
    backdrop = _checkerboard(size) if rgba.getextrema()[3][0] < 255 else Image.new("RGB", size, PAPER)
    backdrop.paste(rgba, (0, 0), rgba)
    return backdrop


def _checkerboard(size: tuple[int, int]) -> Image.Image:
    """Light grey and white squares, the usual sign that a pixel is transparent."""
    board = Image.new("RGB", size, PAPER)
    draw = ImageDraw.Draw(board)
    for y in range(0, size[1], CHECKER):
        for x in range((y // CHECKER) % 2 * CHECKER, size[0], 2 * CHECKER):
            draw.rectangle((x, y, x + CHECKER - 1, y + CHECKER - 1), fill=SQUARE)
    return board


def _text_height(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> int:
    box = ImageDraw.Draw(Image.new("L", (1, 1))).multiline_textbbox((0, 0), text, font=font)
    return int(box[3])
