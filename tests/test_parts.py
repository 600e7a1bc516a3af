"""Shapes that move as wholes between two keys: matched, fitted with one affine motion, moved halfway."""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch

from apprentice.kinds import parts
from apprentice.kinds.flow_prior import gray_over_white, prior_flows
from apprentice.kinds.inbetween_net import InbetweenConfig, InbetweenNet
from apprentice.kinds.parts import halfway_motion, moved, moved_halfway

HEIGHT, WIDTH = 64, 128


def ball(x: float, y: float, turn: float, radius: float = 11.0) -> np.ndarray:
    """A premultiplied H×W×4 float32 frame of white paper with a ball at (x, y): an outline and four quarters of two
    colours, turned by `turn` radians, so that its turn can be seen."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    frame = np.ones((HEIGHT, WIDTH, 4), np.float32)
    distance = np.hypot(xs - x, ys - y)
    angle = np.arctan2(ys - y, xs - x) - turn
    quarter = (np.floor(angle / (math.pi / 2)) % 2).astype(bool)
    inside = distance < radius - 2
    frame[inside & quarter, :3] = (0.2, 0.7, 0.3)
    frame[inside & ~quarter, :3] = (0.5, 0.2, 0.8)
    frame[(distance >= radius - 2) & (distance < radius), :3] = 0.05
    return frame


def tensor(frame: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frame).permute(2, 0, 1)[None]


def drawn_halfway(first: np.ndarray, last: np.ndarray, parts: bool) -> np.ndarray:
    """The untrained network's middle (its head zeroed, so its motion start's warp and blend alone), H×W×4."""
    torch.manual_seed(0)
    net = InbetweenNet(InbetweenConfig(width=8, mid_width=8, deep_width=8, blocks=1, prior=True, parts=parts)).eval()
    torch.nn.init.zeros_(net.head.weight)
    torch.nn.init.zeros_(net.head.bias)
    a, b = tensor(first), tensor(last)
    with torch.inference_mode():
        return net(torch.cat([a, b, a, b], dim=1))[0].permute(1, 2, 0).numpy()


def test_a_ball_that_flies_far_is_drawn_once_halfway_where_the_flow_alone_doubles_it():
    first, last, truth = ball(24, 30, 0.0), ball(104, 34, 0.6), ball(64, 32, 0.3)
    with_parts, flow_alone = drawn_halfway(first, last, True), drawn_halfway(first, last, False)
    error = np.abs(with_parts - truth)[..., :3].mean()
    assert error < 0.02, error
    assert np.abs(flow_alone - truth)[..., :3].mean() > 2 * error  # the attack: the flow alone ghosts it
    for x, y in ((24, 30), (104, 34)):  # nothing of the ball is left where either key has it
        assert with_parts[y - 8 : y + 8, x - 8 : x + 8, :3].min() > 0.9


def hanging(wheel_x: float, turn: float, lamp_x: float, tilt: float) -> np.ndarray:
    """A premultiplied H×W×4 frame of white paper: a wheel rolling on a wire (ball's quarters) and, below it, a lantern
    (a red box, outlined) hung from it by a thin dark string, the three touching: one connected shape in each key."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    paper = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    cv2.line(paper, (round(wheel_x), 12), (round(lamp_x), 44), (13, 13, 13), 1, cv2.LINE_8)
    frame = np.concatenate([paper / np.float32(255.0), np.ones((HEIGHT, WIDTH, 1), np.float32)], axis=-1)
    wheel = ball(wheel_x, 12.0, turn, radius=10.0)
    rim = np.hypot(xs - wheel_x, ys - 12.0) < 10.0
    frame[rim] = wheel[rim]
    across = (xs - lamp_x) * math.cos(tilt) + (ys - 44.0) * math.sin(tilt)
    down = (ys - 44.0) * math.cos(tilt) - (xs - lamp_x) * math.sin(tilt)
    frame[(np.abs(across) < 9) & (np.abs(down) < 11), :3] = 0.05
    frame[(np.abs(across) < 7) & (np.abs(down) < 9), :3] = (0.8, 0.2, 0.3)
    return frame


def test_a_wheel_and_the_lantern_it_carries_on_a_string_are_each_drawn_once(monkeypatch):
    """The string joins them into one shape that no single motion fits (the wheel rolls twice as far as the lantern
    swings): cut where the string is thin, each part moves whole; uncut, both keys' wheels show through."""
    first, truth, last = hanging(24, 0.0, 28, 0.0), hanging(64, 0.4, 50, 0.1), hanging(104, 0.8, 72, 0.2)
    cut = drawn_halfway(first, last, True)
    assert np.abs(cut - truth)[2:24, 52:76, :3].mean() < 0.2  # the wheel, halfway
    assert np.abs(cut - truth)[..., :3].mean() < 0.04
    for x in (24, 104):  # nothing but a trace is left of the wheel where either key has it
        assert cut[4:20, x - 8 : x + 8, :3].min() > 0.8
    monkeypatch.setattr(parts, "THIN", 0)  # the attack: never cut
    uncut = drawn_halfway(first, last, True)
    assert all(uncut[4:20, x - 8 : x + 8, :3].min() < 0.6 for x in (24, 104))  # two ghost wheels
    assert np.abs(uncut - truth)[..., :3].mean() > 3 * np.abs(cut - truth)[..., :3].mean()


def test_a_shape_that_does_not_keep_its_colours_keeps_the_flow_given():
    first, last = ball(30, 32, 0.0), ball(90, 32, 0.0)
    last[..., :3] = np.where(last[..., :3] < 0.99, 1.0 - last[..., :3], last[..., :3])  # its colours turned over
    to_first = np.random.default_rng(0).normal(size=(HEIGHT, WIDTH, 2)).astype(np.float32)
    grays = tuple(gray_over_white(tensor(frame))[0] for frame in (first, last))
    kept_first, kept_last, blend = moved_halfway(first, last, grays, to_first, -to_first)
    assert np.array_equal(kept_first, to_first) and np.array_equal(kept_last, -to_first) and not blend.any()


def test_halfway_is_half_the_turn_half_the_stretch_and_the_centre_halfway():
    angle, centre = 1.0, np.array([10.0, 20.0])
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    linear = turn @ np.diag([1.0, 0.5])  # a turn after a squash to half height
    warp = np.concatenate([linear, (np.array([50.0, 0.0]) + centre - linear @ centre)[:, None]], axis=1)
    middle = halfway_motion(warp, centre)
    half = np.array([[math.cos(angle / 2), -math.sin(angle / 2)], [math.sin(angle / 2), math.cos(angle / 2)]])
    assert np.allclose(middle[:, :2], half @ np.diag([1.0, 0.75]), atol=1e-9)
    assert np.allclose(moved(middle, *centre), centre + [25.0, 0.0])


def test_the_flows_start_from_the_moved_shapes_only_when_asked():
    first, last = tensor(ball(24, 30, 0.0)), tensor(ball(104, 34, 0.6))
    plain, moved_whole = prior_flows(first, last), prior_flows(first, last, parts=True)
    inside = moved_whole[0, :, 28:36, 60:68].mean(dim=(1, 2))  # the middle's ball lies at (64, 32)
    assert torch.allclose(inside, torch.tensor([-40.0, -2.0, 40.0, 2.0, 0.0]), atol=1.5), inside
    assert moved_whole[0, 4, 30, 24] < -3 and moved_whole[0, 4, 34, 104] > 3  # behind where it left: the other key
    assert torch.equal(plain[0, :2], -plain[0, 2:4]) and not plain[0, 4].any()  # without: DIS halved, even blend


def test_apprentices_made_before_parts_existed_start_from_the_flow_alone():
    made_before = {"width": 8, "mid_width": 8, "deep_width": 8, "blocks": 1, "flow": True, "prior": True}
    assert InbetweenConfig(**made_before).parts is False
