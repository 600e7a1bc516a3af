"""The synthetic inked animations behind the in-betweening demo and benchmark."""

import numpy as np
import pytest
from PIL import Image

from apprentice.demo.cartoons import RIGS, animation, animation_set

SIZE = (96, 72)
FRAMES = 6
ONE_OF_EACH_RIG = range(len(RIGS))


def _pixels(frames: list[Image.Image]) -> np.ndarray:
    return np.stack([np.asarray(frame).astype(int) for frame in frames])


def _figure(pixels: np.ndarray) -> np.ndarray:
    """Where each frame differs from the background, read from its top-left corner."""
    return (pixels[..., :3] != pixels[:, :1, :1, :3]).any(axis=-1)


def test_same_seed_draws_the_same_sequence_to_the_byte():
    first, again = animation(7, FRAMES, SIZE), animation(7, FRAMES, SIZE)
    assert [frame.tobytes() for frame in first] == [frame.tobytes() for frame in again]


def test_different_seeds_draw_different_sequences():
    sequences = [animation(seed, 2, SIZE) for seed in (3, 4, 8)]
    assert len({sequence[0].tobytes() for sequence in sequences}) == 3


@pytest.mark.parametrize("transparent", [False, True])
def test_frames_are_rgba_of_the_asked_size_and_count(transparent):
    frames = animation(1, FRAMES, SIZE, transparent=transparent)
    assert len(frames) == FRAMES
    assert all(frame.size == SIZE and frame.mode == "RGBA" for frame in frames)


def test_paper_background_is_opaque_and_light():
    pixels = _pixels(animation(2, FRAMES, SIZE))
    assert (pixels[..., 3] == 255).all()
    assert (pixels[:, 0, 0, :3] >= 240).all()


@pytest.mark.parametrize("seed", ONE_OF_EACH_RIG)
def test_transparent_background_is_clear_in_the_corners_and_the_outlines_are_opaque_ink(seed):
    pixels = _pixels(animation(seed, FRAMES, SIZE, transparent=True))
    corners = pixels[:, [0, 0, -1, -1], [0, -1, 0, -1], 3]
    assert (corners == 0).all()
    opaque_ink = (pixels[..., 3] == 255) & (pixels[..., :3].max(axis=-1) < 50)
    assert opaque_ink.sum(axis=(1, 2)).min() > 20


def test_on_twos_holds_every_drawing_for_exactly_two_frames():
    frames = animation(11, 7, SIZE, on_twos=True)
    assert len(frames) == 7
    for held in range(0, 6, 2):
        assert frames[held + 1].tobytes() == frames[held].tobytes()
    for drawing in range(0, 5, 2):
        assert frames[drawing + 2].tobytes() != frames[drawing].tobytes()


def test_on_twos_shows_the_same_drawings_as_on_ones_at_the_even_frames():
    ones, twos = animation(5, FRAMES, SIZE), animation(5, FRAMES, SIZE, on_twos=True)
    assert [frame.tobytes() for frame in ones[::2]] == [frame.tobytes() for frame in twos[::2]]


@pytest.mark.parametrize("seed", ONE_OF_EACH_RIG)
def test_outlines_are_near_black_and_fills_are_flat(seed):
    pixels = _pixels(animation(seed, 1))[0]  # the default size, where lines are thin beside the fills
    figure = pixels[_figure(pixels[None])[0]][:, :3]
    assert (figure.max(axis=-1) < 50).mean() > 0.1
    _, counts = np.unique(figure, axis=0, return_counts=True)
    assert np.sort(counts)[::-1][:6].sum() / len(figure) > 0.55


@pytest.mark.parametrize("seed", ONE_OF_EACH_RIG)
def test_every_frame_moves_and_the_middle_of_three_is_no_cross_fade(seed):
    pixels = _pixels(animation(seed, FRAMES, SIZE))
    steps = np.abs(np.diff(pixels, axis=0)).mean(axis=(1, 2, 3))
    assert steps.min() > 0.5
    fades = np.abs(pixels[1:-1] - (pixels[:-2] + pixels[2:]) / 2).mean(axis=(1, 2, 3))
    assert fades.min() > 0.5


@pytest.mark.parametrize("seed", ONE_OF_EACH_RIG)
def test_the_figure_travels_across_the_frame(seed):
    pixels = _pixels(animation(seed, FRAMES, SIZE))
    still = (pixels == pixels[0]).all(axis=(0, 3))  # the scenery: ground, wire, posts
    centres = []
    for moving in _figure(pixels) & ~still:
        ys, xs = np.nonzero(moving)
        centres.append((xs.mean(), ys.mean()))
    travel = np.linalg.norm(np.array(centres) - centres[0], axis=1).max()
    assert travel > 0.04 * SIZE[0]


def test_set_gives_distinct_opaque_sequences_and_repeats_for_its_seed():
    sequences = animation_set(5, seed=2, frames=3, size=SIZE)
    assert len(sequences) == 5 and all(len(sequence) == 3 for sequence in sequences)
    assert len({sequence[0].tobytes() for sequence in sequences}) == 5
    assert all((np.asarray(frame)[..., 3] == 255).all() for sequence in sequences for frame in sequence)
    again = animation_set(5, seed=2, frames=3, size=SIZE)
    assert [s[0].tobytes() for s in sequences] == [s[0].tobytes() for s in again]
