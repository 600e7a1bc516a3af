"""The built-in demo's synthetic cleanup pairs, and the contact sheet that shows results side by side."""

import numpy as np
import pytest
from PIL import Image

from apprentice.demo.contact_sheet import contact_sheet
from apprentice.demo.sketches import cleanup_pair, cleanup_set

SIZE = (96, 80)


def test_same_seed_draws_the_same_pair_to_the_byte():
    first, again = cleanup_pair(3, SIZE), cleanup_pair(3, SIZE)
    assert [image.tobytes() for image in first] == [image.tobytes() for image in again]


def test_different_seeds_draw_different_pairs():
    one, other = cleanup_pair(3, SIZE), cleanup_pair(4, SIZE)
    assert one[0].tobytes() != other[0].tobytes()
    assert one[1].tobytes() != other[1].tobytes()


def test_before_and_after_match_in_size_and_mode():
    before, after = cleanup_pair(5, SIZE)
    assert before.size == after.size == SIZE
    assert before.mode == after.mode == "RGB"


def test_after_is_black_ink_on_white_paper():
    after = np.asarray(cleanup_pair(6, SIZE)[1]).astype(int)
    dark = (after < 60).all(axis=2).mean()
    white = (after == 255).all(axis=2).mean()
    assert 0.01 < dark < 0.3
    assert white > 0.5


def test_blue_construction_lines_are_in_the_before_and_gone_from_the_after():
    before, after = (np.asarray(image).astype(int) for image in cleanup_pair(7, SIZE))
    assert _bluish(before).sum() > 10
    assert _bluish(after).sum() == 0


def test_pencil_strokes_cluster_where_the_clean_line_is():
    before, after = (np.asarray(image.convert("L")).astype(int) for image in cleanup_pair(8, SIZE))
    on_ink, off_ink = after < 60, after == 255
    assert before[on_ink].mean() < before[off_ink].mean() - 30


def test_set_gives_distinct_pairs_and_repeats_for_its_seed():
    pairs = cleanup_set(3, seed=1, size=(48, 48))
    assert len({before.tobytes() for before, _ in pairs}) == 3
    assert [a.tobytes() for _, a in pairs] == [a.tobytes() for _, a in cleanup_set(3, seed=1, size=(48, 48))]


def test_contact_sheet_grows_with_rows_and_columns():
    image = Image.new("RGB", (64, 48), "grey")
    one = contact_sheet([[image, image]], ["before", "after"])
    taller = contact_sheet([[image, image], [image, image]], ["before", "after"])
    wider = contact_sheet([[image, image, image]], ["before", "apprentice", "artist's after"])
    assert taller.width == one.width and taller.height > one.height
    assert wider.height == one.height and wider.width > one.width


def test_contact_sheet_writes_its_column_titles_and_footer():
    image = Image.new("RGB", (64, 64), "white")
    plain = contact_sheet([[image]], [""])
    titled = contact_sheet([[image]], ["before"], footer="loss 0.031")
    header_band = np.asarray(titled)[:20]
    assert (header_band < 128).any()
    assert titled.height > plain.height
    assert (np.asarray(titled)[-20:] < 128).any()


def test_contact_sheet_shows_transparent_pixels_over_a_checkerboard():
    clear = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    cell = np.asarray(contact_sheet([[clear]], ["cut-out"]))[60:200, 40:200]
    assert len(np.unique(cell.reshape(-1, 3), axis=0)) == 2


def test_contact_sheet_refuses_rows_that_do_not_match_the_titles():
    image = Image.new("RGB", (8, 8))
    with pytest.raises(ValueError, match="one image per title"):
        contact_sheet([[image]], ["before", "after"])


def _bluish(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., 2] - pixels[..., 0] > 15
