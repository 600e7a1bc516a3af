"""Shapes that move as wholes between two keys (a ball, a fish, a lantern): each found in both keys, fitted with one
affine motion, and moved halfway along it, where per-pixel optical flow would tear or double it.

A shape is a connected piece of what changes between the keys and is not their paper; it moves as a whole only where
most of its pixels land on the same colours in the other key once moved (`SHARE`). A pair that does not is cut where
thin lines hold it together (a lantern hanging from a wheel by its string), and each part is tried alone. Where a shape
left, the other key shows what lay behind it, so the blend leans on that key there. Everything else keeps its flow and
an even blend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHANGED = 0.08  # a pixel changes between the keys where a premultiplied channel moves this much
FITS = 0.2  # a pixel of a shape fits the shape's motion where the other key, moved back onto it, is this close
SHARE = 0.6  # the share of a shape's pixels that must fit its motion for the shape to move as a whole
SMALLEST = 12  # pixels: a smaller change is left to the flow
MOST = 24  # shapes looked for in each key, the largest first: bounds the time a busy frame takes
MARGIN = 8  # pixels around a pair of shapes in which their motion is fitted and drawn
ROUNDS = 50  # iterations of the motion fit (OpenCV's ECC)
THIN = 2  # pixels: a shape that does not move whole is cut into parts where lines this thin (2·THIN+1) join them
PIECE_SHARE = 0.5  # … and for a piece cut from one, whose edges the cut and the lines across it blur
AREAS = 2.0  # a shape pairs only with a shape at most this many times larger or smaller in area
LEFT = 4.0  # the blend's logit toward the key that shows what lay behind a shape that left (sigmoid: 98 %)


@dataclass
class Shape:
    """One connected piece of a key that changes, in frame coordinates."""

    mask: np.ndarray  # bool, over its box
    area: int
    centre: np.ndarray  # (x, y)
    colour: np.ndarray  # its mean premultiplied RGBA
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)

    def within(self, box: tuple[int, int, int, int]) -> np.ndarray:
        """Its mask over `box`, a box that holds its own."""
        x0, y0, x1, y1 = box
        made = np.zeros((y1 - y0, x1 - x0), bool)
        made[self.box[1] - y0 : self.box[3] - y0, self.box[0] - x0 : self.box[2] - x0] = self.mask
        return made


def moved_halfway(
    first: np.ndarray, last: np.ndarray, grays: tuple[np.ndarray, np.ndarray], to_first: np.ndarray, to_last: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The flows from the middle to each key (H×W×2, pixels, x then y) with every shape that moves as a whole
    between the premultiplied H×W×4 float32 keys moved halfway along its own motion, elsewhere the flows given; and
    the blend's H×W logit toward the first key (0: even; ±LEFT where a shape left and the other key shows behind).
    `grays`: the keys' uint8 luminance over white, as the flow was found on."""
    import cv2  # only where an apprentice's motion starts from shapes

    blend = np.zeros(first.shape[:2], np.float32)
    changed = cv2.dilate(apart(first, last, CHANGED).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    diagonal = float(np.hypot(*first.shape[:2]))
    pairs = matched(shapes(first, changed), shapes(last, changed), diagonal)
    if not pairs:
        return to_first, to_last, blend
    to_first, to_last = to_first.copy(), to_last.copy()
    paper = 255.0 if np.median(grays[0]) > 127 else 0.0
    drawn = Drawn(to_first, to_last, *(np.zeros(first.shape[:2], bool) for _ in range(3)))
    stuck = [(a, b) for a, b in pairs if not move(a, b, first, last, grays, paper, drawn)]
    if stuck:  # shapes held together by a thin line (a lantern on its string): try their pieces alone
        cut_a = [piece for a, _ in stuck for piece in pieces(a, first)]
        cut_b = [piece for _, b in stuck for piece in pieces(b, last)]
        for a, b in matched(cut_a, cut_b, diagonal):
            move(a, b, first, last, grays, paper, drawn, PIECE_SHARE)
    placed, left_first, left_last = drawn.placed, drawn.left_first, drawn.left_last
    for behind, toward in ((left_first & ~left_last & ~placed, -LEFT), (left_last & ~left_first & ~placed, LEFT)):
        to_first[behind], to_last[behind], blend[behind] = 0.0, 0.0, toward  # the other key, where it is
    return to_first, to_last, blend


@dataclass
class Drawn:
    """The middle's flows to each key as shapes are moved onto them, where a moved shape lies, and where each key's
    shapes were (what they left)."""

    to_first: np.ndarray
    to_last: np.ndarray
    placed: np.ndarray
    left_first: np.ndarray
    left_last: np.ndarray


def move(
    a: Shape, b: Shape, first: np.ndarray, last: np.ndarray, grays: tuple[np.ndarray, np.ndarray], paper: float,
    drawn: Drawn, share: float = SHARE,
) -> bool:  # fmt: skip
    """Move shape `a` of the first key halfway to shape `b` of the last along one fitted motion, where it fits;
    False where it does not move as a whole."""
    import cv2

    box = x0, y0, x1, y1 = joined(a.box, b.box, first.shape[:2])
    crop = (slice(y0, y1), slice(x0, x1))
    mask_a, mask_b = a.within(box), b.within(box)
    warp = motion(mask_a, mask_b, grays[0][crop], grays[1][crop], paper, b.centre - a.centre)
    if warp is None or fit(warp, first[crop], last[crop], mask_a) < share:
        return False
    middle = halfway_motion(warp, a.centre - np.array([x0, y0], np.float64))
    there = cv2.warpAffine(mask_a.astype(np.float32), middle.astype(np.float32), (x1 - x0, y1 - y0)) > 0.5
    ys, xs = np.nonzero(there)
    ax, ay = moved(inverse(middle), xs, ys)
    bx, by = moved(warp, ax, ay)
    drawn.to_first[ys + y0, xs + x0] = np.stack([ax - xs, ay - ys], axis=-1)
    drawn.to_last[ys + y0, xs + x0] = np.stack([bx - xs, by - ys], axis=-1)
    drawn.placed[ys + y0, xs + x0] = True
    drawn.left_first[crop] |= mask_a
    drawn.left_last[crop] |= mask_b
    return True


def pieces(shape: Shape, frame: np.ndarray) -> list[Shape]:
    """The parts of a shape that hang together by lines no thicker than 2·THIN + 1 pixels: each part without those
    lines, with its own outline; none where no such line holds the shape together."""
    import cv2

    round_brush = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * THIN + 1, 2 * THIN + 1))
    mask = shape.mask.astype(np.uint8)
    count, labels = cv2.connectedComponents(cv2.morphologyEx(mask, cv2.MORPH_OPEN, round_brush))
    if count <= 2:
        return []
    x0, y0 = shape.box[:2]
    found = []
    for label in range(1, count):
        part = (cv2.dilate((labels == label).astype(np.uint8), round_brush) > 0) & shape.mask
        ys, xs = np.nonzero(part)
        if len(ys) < SMALLEST:
            continue
        top, left, bottom, right = ys.min(), xs.min(), ys.max() + 1, xs.max() + 1
        colour = frame[y0 + top : y0 + bottom, x0 + left : x0 + right][part[top:bottom, left:right]].mean(axis=0)
        centre = np.array([xs.mean() + x0, ys.mean() + y0])
        box = (x0 + left, y0 + top, x0 + right, y0 + bottom)
        found.append(Shape(part[top:bottom, left:right], len(ys), centre, colour, box))
    return found


def shapes(frame: np.ndarray, changed: np.ndarray) -> list[Shape]:
    """The connected pieces of `frame` that change and are not its paper (its most common colour), largest first."""
    import cv2

    ink = apart(frame, paper_colour(frame), CHANGED)
    count, labels, stats, centres = cv2.connectedComponentsWithStats((ink & changed).astype(np.uint8), connectivity=8)
    order = sorted(range(1, count), key=lambda i: -stats[i, cv2.CC_STAT_AREA])
    found = []
    for label in order[:MOST]:
        x, y, w, h, area = stats[label]
        if area < SMALLEST:
            break
        mask = labels[y : y + h, x : x + w] == label
        colour = frame[y : y + h, x : x + w][mask].mean(axis=0)
        found.append(Shape(mask, int(area), centres[label], colour, (x, y, x + w, y + h)))
    return found


def paper_colour(frame: np.ndarray) -> np.ndarray:
    """The frame's most common premultiplied colour (of every fourth pixel each way): its paper, or transparency."""
    levels = np.round(frame[::4, ::4].reshape(-1, 4) * 255).astype(np.int64)
    keys = ((levels[:, 0] * 256 + levels[:, 1]) * 256 + levels[:, 2]) * 256 + levels[:, 3]
    values, counts = np.unique(keys, return_counts=True)
    key = int(values[counts.argmax()])
    return np.array([(key >> shift) & 255 for shift in (24, 16, 8, 0)], np.float32) / 255.0


def matched(first: list[Shape], last: list[Shape], diagonal: float) -> list[tuple[Shape, Shape]]:
    """Pairs of shapes, one from each key, of like size and colour, the closest alike first; each shape in one."""
    costs = []
    for i, a in enumerate(first):
        for j, b in enumerate(last):
            ratio, colour = a.area / b.area, float(np.abs(a.colour - b.colour).max())
            if 1 / AREAS <= ratio <= AREAS and colour <= 0.2:
                costs.append((abs(np.log(ratio)) + 3 * colour + np.linalg.norm(a.centre - b.centre) / diagonal, i, j))
    pairs, taken_a, taken_b = [], set(), set()
    for _, i, j in sorted(costs):
        if i not in taken_a and j not in taken_b:
            taken_a.add(i)
            taken_b.add(j)
            pairs.append((first[i], last[j]))
    return pairs


def joined(a: tuple[int, int, int, int], b: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[int, ...]:
    """The box around both boxes and MARGIN, within the frame."""
    height, width = size
    return (
        max(0, min(a[0], b[0]) - MARGIN),
        max(0, min(a[1], b[1]) - MARGIN),
        min(width, max(a[2], b[2]) + MARGIN),
        min(height, max(a[3], b[3]) + MARGIN),
    )


def motion(
    mask_a: np.ndarray, mask_b: np.ndarray, gray_a: np.ndarray, gray_b: np.ndarray, paper: float, shift: np.ndarray
) -> np.ndarray | None:
    """The 2×3 affine W taking each point x of the first shape to W(x) on the second (last(W(x)) ≈ first(x)),
    fitted by OpenCV's ECC from the shift between their centres: rigid first, then affine (a squash, a stretch).
    None where the fit fails."""
    import cv2

    template = np.where(mask_a, gray_a, paper).astype(np.float32)
    image = np.where(mask_b, gray_b, paper).astype(np.float32)
    warp = np.array([[1, 0, shift[0]], [0, 1, shift[1]]], np.float32)
    stop = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, ROUNDS, 1e-4)
    try:
        for kind in (cv2.MOTION_EUCLIDEAN, cv2.MOTION_AFFINE):
            _, warp = cv2.findTransformECC(template, image, warp, kind, stop, None, 5)
    except cv2.error:  # a shape too plain to fit, or a fit that does not converge
        return None
    scales = np.linalg.svd(warp[:, :2].astype(np.float64), compute_uv=False)
    if not np.isfinite(warp).all() or not 0.25 <= scales.min() <= scales.max() <= 4.0:
        return None  # no shape of like size grows or shrinks this much: a fit gone astray
    return warp.astype(np.float64)


def fit(warp: np.ndarray, first: np.ndarray, last: np.ndarray, mask: np.ndarray) -> float:
    """The share of the first key's shape pixels whose colour the last key has where `warp` takes them."""
    import cv2

    height, width = mask.shape
    back = cv2.warpAffine(
        last, warp.astype(np.float32), (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip
    return float((~apart(first, back, FITS))[mask].mean())


def apart(a: np.ndarray, b: np.ndarray, level: float) -> np.ndarray:
    """Where some channel of two H×W×4 arrays (or one and a colour) differs by more than `level`: pairwise maxima,
    as numpy reduces an axis of 4 several times slower."""
    d = np.abs(a - b)
    return np.maximum(np.maximum(d[..., 0], d[..., 1]), np.maximum(d[..., 2], d[..., 3])) > level


def halfway_motion(warp: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """The affine taking the first shape to the middle: half its turn and half its stretch about its centre, which
    moves halfway to where `warp` takes it."""
    u, scales, vt = np.linalg.svd(warp[:, :2])
    turn = u @ vt
    if np.linalg.det(turn) < 0:  # a mirror is no motion; keep the stretch alone
        turn = np.eye(2)
    stretch = vt.T @ np.diag(scales) @ vt
    angle = np.arctan2(turn[1, 0], turn[0, 0]) / 2
    half = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ ((np.eye(2) + stretch) / 2)
    middle = (centre + warp[:, :2] @ centre + warp[:, 2]) / 2
    return np.concatenate([half, (middle - half @ centre)[:, None]], axis=1)


def inverse(affine: np.ndarray) -> np.ndarray:
    linear = np.linalg.inv(affine[:, :2])
    return np.concatenate([linear, (-linear @ affine[:, 2])[:, None]], axis=1)


def moved(affine: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (xs, ys) taken by a 2×3 affine."""
    return (
        affine[0, 0] * xs + affine[0, 1] * ys + affine[0, 2],
        affine[1, 0] * xs + affine[1, 1] * ys + affine[1, 2],
    )
