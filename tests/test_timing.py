"""Timing charts: the notation an animator writes, the positions it means, and the halvings that draw them."""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest
import torch
from torch import nn

from apprentice.errors import BadInput
from apprentice.kinds import ApplyOptions, get_kind
from apprentice.kinds.timing import drawn_at, needed, parse_chart


@pytest.mark.parametrize(
    ("chart", "positions"),
    [
        ("1/4,1/2,3/4", (F(1, 4), F(1, 2), F(3, 4))),
        ("0.25, .5", (F(1, 4), F(1, 2))),
        ("even 3", (F(1, 4), F(1, 2), F(3, 4))),
        ("even 2", (F(1, 3), F(2, 3))),
        ("ease-out 3", (F(1, 8), F(1, 4), F(1, 2))),  # slow out of the first key: halves toward it
        ("slow-out 3", (F(1, 8), F(1, 4), F(1, 2))),
        ("ease-in 3", (F(1, 2), F(3, 4), F(7, 8))),  # slow in to the second key
        ("Ease-In-Out 5", (F(1, 8), F(1, 4), F(1, 2), F(3, 4), F(7, 8))),
        ("ease-in-out 1", (F(1, 2),)),
    ],
)
def test_a_chart_means_the_positions_an_animator_charts(chart, positions):
    assert parse_chart(chart, 2) == [positions, positions]


def test_one_chart_per_gap_separated_by_semicolons():
    assert parse_chart("ease-out 1; 1/4,3/4", 2) == [(F(1, 2),), (F(1, 4), F(3, 4))]


@pytest.mark.parametrize(
    ("chart", "sentence"),
    [
        ("0", "'0' is not between the two keys; write positions between 0 and 1, such as 1/4."),
        ("3/2", "'3/2' is not between the two keys; write positions between 0 and 1, such as 1/4."),
        ("1/0", "'1/0' divides by zero;"),
        ("3/4,1/4", "The positions in '3/4,1/4' do not rise from the first key to the second; write them in order."),
        ("ease-in-out 4", "ease-in-out 4 has no middle drawing; chart an odd number of in-betweens (3, 5, 7)."),
        ("even 40", "'even 40' charts 40 in-betweens; chart from 1 to 31 in one gap."),
        ("fast 3", "'fast 3' is not a timing chart; write positions between the keys (1/4,1/2,3/4)"),
        ("1/2;1/2;1/2", "The timing chart charts 3 gaps but 3 keys make 2; chart one gap for all"),
        ("1/2," * 2000, "The timing chart is longer than 4000 characters; write positions between the keys"),
        (
            ",".join(f"{n}/64" for n in range(1, 40)),
            "'1/64,2/64,3/64,4/64,5/64,6/64,7/64,8/64,…' charts 39 in-betweens; chart at most 31 in one gap.",
        ),
    ],
)
def test_a_chart_that_means_nothing_is_refused_in_one_sentence(chart, sentence):
    with pytest.raises(BadInput) as refused:
        parse_chart(chart, 2)
    assert str(refused.value).startswith(sentence)


def test_a_chart_and_a_count_together_are_refused():
    with pytest.raises(BadInput, match="A timing chart already says how many in-betweens to draw"):
        ApplyOptions(between=3, timing="ease-in 3")


def test_options_with_a_chart_round_trip():
    options = ApplyOptions(timing="ease-in 3", formats=("frames", "apng"))
    assert ApplyOptions.from_dict(options.to_dict()) == options


def test_halves_are_drawn_exactly_and_other_positions_at_the_nearest_halving_within_a_64th():
    assert drawn_at(F(3, 8)) == F(3, 8)
    assert drawn_at(F(1, 3)) == F(11, 32) and drawn_at(F(2, 3)) == F(21, 32)
    for tenth in range(1, 10):
        assert abs(drawn_at(F(tenth, 10)) - F(tenth, 10)) <= F(1, 64)


def test_halving_draws_each_position_after_the_two_it_lies_between():
    assert needed((F(1, 8), F(1, 4), F(1, 2))) == [F(1, 2), F(1, 4), F(1, 8)]
    assert needed((F(3, 8),)) == [F(1, 2), F(1, 4), F(3, 8)]
    assert needed((F(1, 3),)) == [F(1, 2), F(1, 4), F(3, 8), F(5, 16), F(11, 32)]  # a third costs five drawings


class CrossFade(nn.Module):
    """A stand-in network whose in-between is the two keys' mean: position p between keys of value 0 and 128 is 128p."""

    margin, align = 0, 1

    def forward(self, keys: torch.Tensor) -> torch.Tensor:
        return (keys[:, :4] + keys[:, 4:8]) / 2


def key(value: int) -> np.ndarray:
    pixels = np.full((4, 4, 4), value, np.uint8)
    pixels[..., 3] = 255
    return pixels


@pytest.mark.parametrize(
    ("chart", "values"),
    [("ease-out 3", [16, 32, 64]), ("ease-in 3", [64, 96, 112]), ("1/3", [44]), ("even 1", [64])],
)
def test_the_kind_draws_each_charted_position_between_the_keys(chart, values):
    made = list(get_kind("inbetween").apply(CrossFade(), [key(0), key(128)], ApplyOptions(timing=chart)))
    assert [output.drawn for output in made] == [False, *[True] * len(values), False]
    assert [int(output.pixels[0, 0, 0]) for output in made] == [0, *values, 128]  # 1/3 is drawn at 11/32: 44


def test_each_gap_follows_its_own_chart_and_reports_every_drawing():
    steps = []
    options = ApplyOptions(timing="ease-out 2; ease-in 2")
    made = list(
        get_kind("inbetween").apply(
            CrossFade(), [key(0), key(128), key(0)], options, lambda done, total: steps.append((done, total))
        )
    )
    assert [int(output.pixels[0, 0, 0]) for output in made] == [0, 32, 64, 128, 64, 32, 0]
    assert [output.source for output in made] == [0, 0, 0, 1, 1, 1, 2]
    assert steps == [(done, 4) for done in range(1, 5)]
