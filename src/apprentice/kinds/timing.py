"""Timing charts: where the in-betweens fall between two keys, written the way an animator charts spacing.

Pure functions: a chart's text → the positions of each gap's in-betweens, and the halvings that draw them.
"""

from __future__ import annotations

import re
from fractions import Fraction

from apprentice.errors import BadInput

MAX_DEPTH = 6  # halvings: positions are drawn to the nearest 1/64 of the gap at worst
CLOSE_ENOUGH = Fraction(1, 64)  # a non-dyadic position is drawn at the first halving this close to it
MAX_BETWEEN = 31  # in-betweens in one gap
MAX_CHART_CHARS = 4000
NAMED = re.compile(r"(even|ease-in|ease-out|ease-in-out|slow-in|slow-out|slow-in-out)\s+(\d{1,3})")
POSITION = re.compile(r"\d{1,4}(/\d{1,4})?|\d{0,4}\.\d{1,6}")
SAY_HOW = (
    "write positions between the keys (1/4,1/2,3/4) or a named spacing (even 3, ease-in 3, ease-out 3, "
    "ease-in-out 5), one chart per gap separated by ';'"
)

Chart = tuple[Fraction, ...]  # the positions of one gap's in-betweens, from 0 (the key before) to 1 (the key after)


def even(count: int) -> Chart:
    """`count` in-betweens spaced evenly: 1/2 for one, 1/4, 1/2, 3/4 for three."""
    return tuple(Fraction(index, count + 1) for index in range(1, count + 1))


def ease_out(count: int) -> Chart:
    """Slow out of the first key: the breakdown at 1/2, then halves toward the first key (1/8, 1/4, 1/2)."""
    return tuple(Fraction(1, 2**power) for power in range(count, 0, -1))


def ease_in(count: int) -> Chart:
    """Slow in to the second key: the breakdown at 1/2, then halves toward the second key (1/2, 3/4, 7/8)."""
    return tuple(1 - position for position in reversed(ease_out(count)))


def ease_in_out(count: int) -> Chart:
    """Slow out of the first key and slow in to the second: halves toward both (1/8, 1/4, 1/2, 3/4, 7/8 for 5)."""
    if count % 2 == 0:
        raise BadInput(f"ease-in-out {count} has no middle drawing; chart an odd number of in-betweens (3, 5, 7).")
    half = ease_out((count + 1) // 2)
    return half + tuple(1 - position for position in reversed(half[:-1]))


NAMES = {
    "even": even,
    "ease-out": ease_out,
    "slow-out": ease_out,
    "ease-in": ease_in,
    "slow-in": ease_in,
    "ease-in-out": ease_in_out,
    "slow-in-out": ease_in_out,
}


def parse_chart(text: str, gaps: int) -> list[Chart]:
    """Each of `gaps` gaps' positions; one chart serves every gap, else there is one per gap, separated by ';'."""
    if len(text) > MAX_CHART_CHARS:
        raise BadInput(f"The timing chart is longer than {MAX_CHART_CHARS} characters; {SAY_HOW}.")
    charts = [parse_gap(part.strip()) for part in text.split(";")]
    if len(charts) == 1:
        return charts * gaps
    if len(charts) != gaps:
        raise BadInput(
            f"The timing chart charts {len(charts)} gaps but {gaps + 1} keys make {gaps}; chart one gap for all, "
            f"or one per gap separated by ';'."
        )
    return charts


def parse_gap(text: str) -> Chart:
    """One gap's chart: a named spacing or positions between 0 and 1, rising."""
    named = NAMED.fullmatch(text.lower())
    if named:
        count = int(named[2])
        if not 1 <= count <= MAX_BETWEEN:
            raise BadInput(f"'{text}' charts {count} in-betweens; chart from 1 to {MAX_BETWEEN} in one gap.")
        return NAMES[named[1]](count)
    positions = tuple(position(part.strip()) for part in text.split(","))
    if len(positions) > MAX_BETWEEN:
        short = text if len(text) <= 40 else f"{text[:40]}…"
        raise BadInput(f"'{short}' charts {len(positions)} in-betweens; chart at most {MAX_BETWEEN} in one gap.")
    if any(later <= earlier for earlier, later in zip(positions, positions[1:], strict=False)):
        raise BadInput(f"The positions in '{text}' do not rise from the first key to the second; write them in order.")
    return positions


def position(text: str) -> Fraction:
    """One position between the keys, `3/4` or `0.75`, strictly between 0 and 1."""
    if not POSITION.fullmatch(text):
        raise BadInput(f"'{text}' is not a timing chart; {SAY_HOW}.")
    try:
        value = Fraction(text)
    except ZeroDivisionError:
        raise BadInput(f"'{text}' divides by zero; {SAY_HOW}.") from None
    if not 0 < value < 1:
        raise BadInput(f"'{text}' is not between the two keys; write positions between 0 and 1, such as 1/4.")
    return value


def drawn_at(place: Fraction) -> Fraction:
    """Where halving draws a position: itself when dyadic (1/2, 3/8…), else the first halving within 1/64 of it."""
    for depth in range(1, MAX_DEPTH + 1):
        near = Fraction(round(place * 2**depth), 2**depth)
        if abs(near - place) <= CLOSE_ENOUGH and 0 < near < 1:
            return near
    raise BadInput(f"The position {place} lies too close to a key to draw apart from it; chart it further from it.")


def halvings(place: Fraction) -> tuple[Fraction, Fraction]:
    """The two drawings a dyadic position lies halfway between: 3/8 between 1/4 and 1/2."""
    step = Fraction(1, place.denominator)
    return place - step, place + step


def needed(chart: Chart) -> list[Fraction]:
    """Every drawing halving makes to reach a chart's positions, each once, in the order they are drawn."""
    made: list[Fraction] = []

    def reach(place: Fraction) -> None:
        if place in (0, 1) or place in made:
            return
        for side in halvings(place):
            reach(side)
        made.append(place)

    for place in chart:
        reach(drawn_at(place))
    return made
