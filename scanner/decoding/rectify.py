"""Straighten a tilted or curved code before reading it: find its finder and alignment
patterns, fit where each module lies, and redraw the code flat.

zxing-cpp samples a code's grid through one perspective transform fixed by its finder
patterns (and one alignment pattern). A pass held at a steep angle, or printed on a card
bent around a hand or a phone case, breaks that model: modules far from the fixed points
land between samples and the read fails although every module is plainly visible. Here the
grid is fitted to every pattern found, the three finder patterns and each alignment pattern
(a version 8 pass has six), with a homography plus a quadratic correction, so a gentle
bend (a cylinder's curve) is followed too. The code is then sampled module by module and
drawn anew as a clean, flat image with a quiet zone, which any reader decodes.

Cost: one contour search on the frame, a few small template matches and a resample of
``dimension**2`` points: a few milliseconds at 640x480. Pure function of the pixels.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.uint8]
Points = npt.NDArray[np.float64]

FINDER_SIDE_PX = 480
"""The longest side of the copy finder patterns are looked for on."""
MODULE_PX = 4
"""Pixels per module in the redrawn code."""
QUIET_MODULES = 4
_MIN_FINDER_PX = 9
_MAX_CANDIDATES = 12
_GOOD_ENOUGH = 0.95
"""Share of the fixed modules that came out right above which no other fit is tried."""
_ALIGNMENT_SCORE = 0.45
_MAX_SHIFT = 2.5
"""Modules an alignment pattern may lie from where the grid so far predicts it."""
"""Normalised correlation an alignment pattern must reach to count as found."""


@dataclass(frozen=True, eq=False)
class _Finder:
    center: tuple[float, float]
    module_px: float
    corners: Points | None
    """The outer square's four corners (image points, any order), when it has four."""


PLANNED_FINDERS_MS = 6.0
"""Planned CPU time of the finder search (on a copy at most ``FINDER_SIDE_PX`` long, so
about the same for any frame): p95 5.3 ms, the longest 8.2 ms over the photo sets."""


def planned_fit_ms(dimension: int) -> float:
    """Planned CPU time of fitting and redrawing one candidate grid ``dimension`` modules a
    side (alignment searches and samples grow with its area): above the 95th percentile
    measured per size (25 modules: 2.8 ms; 57: 5.6; 100: 7.1; 150: 23.5)."""
    return 2.0 + 0.0012 * dimension * dimension


def rectified(gray: Gray) -> Gray | None:
    """The code in ``gray`` redrawn flat (black modules on white, with a quiet zone), or None
    when no three finder patterns form a code's corner."""
    return rectified_within(gray, math.inf)[0]


def rectified_within(gray: Gray, plan_ms: float) -> tuple[Gray | None, float, bool]:
    """``rectified(gray)`` trying only the candidate grids whose planned cost (finder search
    plus ``planned_fit_ms`` each, in order) stays within ``plan_ms``: the redraw, the
    planned cost of what was tried, and whether every candidate was tried. Nothing runs
    when the finder search alone does not fit. Pure: the same pixels and plan give the same
    answer."""
    if plan_ms < PLANNED_FINDERS_MS:
        return None, 0.0, False
    spent = PLANNED_FINDERS_MS
    finders = _finder_patterns(gray)
    best: tuple[float, Gray] | None = None
    for corner, right, down in _corners(finders):
        for dimension in _dimensions(corner, right, down):
            cost = planned_fit_ms(dimension)
            if spent + cost > plan_ms:
                return (None if best is None else best[1]), spent, False
            spent += cost
            fitted = _fit(gray, corner, right, down, dimension)
            if fitted is not None and (best is None or fitted[0] > best[0]):
                best = fitted
            if best is not None and best[0] >= _GOOD_ENOUGH:
                return best[1], spent, True
    return (None if best is None else best[1]), spent, True


def _finder_patterns(gray: Gray) -> list[_Finder]:
    """Centres of nested square contours (dark ring, light ring, dark centre), in ``gray``'s
    pixels. Looked for on a copy at most ``FINDER_SIDE_PX`` long: the contour search is
    most of this module's cost, and a finder pattern a rectified read can use is still
    several pixels a module there."""
    scale = min(1.0, FINDER_SIDE_PX / max(gray.shape[:2]))
    if scale < 1.0:
        small = np.asarray(
            cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8
        )
        return [_scaled(finder, 1 / scale) for finder in _finder_patterns(small)]
    block = max(15, (min(gray.shape[:2]) // 12) | 1)
    binary = cv2.adaptiveThreshold(
        gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 12
    )
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    links = hierarchy[0]
    # Only contours with a child that has a child can be finder patterns: pick them with
    # array operations (a code's own modules make thousands of contours).
    child = links[:, 2]
    outer = np.nonzero(child >= 0)[0]
    grandchild = links[child[outer], 2]
    found: list[_Finder] = []
    for index, inner in zip(outer[grandchild >= 0], grandchild[grandchild >= 0], strict=True):
        _, _, width, height = cv2.boundingRect(contours[index])
        if min(width, height) < _MIN_FINDER_PX or max(width, height) > 4 * min(width, height):
            continue
        outer_area = cv2.contourArea(contours[index])
        inner_area = cv2.contourArea(contours[inner])
        if inner_area <= 0 or not 2.5 < outer_area / inner_area < 14:
            continue
        moments = cv2.moments(contours[inner])
        if moments["m00"] == 0:
            continue
        center = (moments["m10"] / moments["m00"], moments["m01"] / moments["m00"])
        outline = cv2.approxPolyDP(
            contours[index], 0.08 * cv2.arcLength(contours[index], True), True
        )
        corners = outline.reshape(-1, 2).astype(np.float64) if len(outline) == 4 else None
        found.append(_Finder(center, math.sqrt(outer_area) / 7, corners))
    found.sort(key=lambda finder: -finder.module_px)
    return _distinct(found)[:_MAX_CANDIDATES]


def _scaled(finder: _Finder, factor: float) -> _Finder:
    # Pixel centres: a pixel's centre in the small copy is at (i + 0.5) / scale - 0.5.
    def point(x: float, y: float) -> tuple[float, float]:
        return ((x + 0.5) * factor - 0.5, (y + 0.5) * factor - 0.5)

    corners = (
        None
        if finder.corners is None
        else np.array([point(float(x), float(y)) for x, y in finder.corners])
    )
    return _Finder(point(*finder.center), finder.module_px * factor, corners)


def _distinct(finders: list[_Finder]) -> list[_Finder]:
    kept: list[_Finder] = []
    for finder in finders:
        if all(math.dist(finder.center, other.center) > 2 * other.module_px for other in kept):
            kept.append(finder)
    return kept


def _corners(finders: list[_Finder]) -> list[tuple[_Finder, _Finder, _Finder]]:
    """Triples (top-left, top-right, bottom-left) that could be one code's finder patterns,
    the most square first. The top-left one is opposite the longest side (as in zxing): under
    a steep perspective the corner's angle is far from square, but that side stays longest."""
    triples: list[tuple[float, tuple[_Finder, _Finder, _Finder]]] = []
    for trio in itertools.combinations(finders, 3):
        sizes = [finder.module_px for finder in trio]
        if max(sizes) > 3 * min(sizes):
            continue
        a, b, c = trio
        sides = {
            (a, b, c): math.dist(b.center, c.center),
            (b, a, c): math.dist(a.center, c.center),
            (c, a, b): math.dist(a.center, b.center),
        }
        corner, one, two = max(sides, key=lambda key: sides[key])
        u = np.subtract(one.center, corner.center)
        v = np.subtract(two.center, corner.center)
        lengths = float(np.linalg.norm(u) * np.linalg.norm(v))
        if lengths == 0:
            continue
        cosine = abs(float(np.dot(u, v))) / lengths
        ratio = float(np.linalg.norm(u) / np.linalg.norm(v))
        if cosine > 0.8 or not 0.3 < ratio < 3.3:
            continue
        # Image y points down: top-right x bottom-left has a positive cross product.
        right, down = (one, two) if u[0] * v[1] - u[1] * v[0] > 0 else (two, one)
        triples.append((cosine, (corner, right, down)))
    triples.sort(key=lambda item: item[0])
    return [triple for _, triple in triples[:4]]


def _dimensions(corner: _Finder, right: _Finder, down: _Finder) -> list[int]:
    """Candidate code sizes (modules a side), the likeliest first."""
    module = (corner.module_px + right.module_px + down.module_px) / 3
    span = (math.dist(corner.center, right.center) + math.dist(corner.center, down.center)) / 2
    version = round((span / module + 7 - 17) / 4)
    order = sorted(range(version - 2, version + 3), key=lambda v: abs(v - version))
    return [17 + 4 * v for v in order if 1 <= v <= 40]


def _alignment_centres(dimension: int) -> list[tuple[float, float]]:
    """Module coordinates (x, y) of the alignment pattern centres of a code that size."""
    version = (dimension - 17) // 4
    if version < 2:
        return []
    count = version // 7 + 2
    last = dimension - 7
    # The standard's table as a formula (Project Nayuki's derivation of ISO 18004 Annex E).
    step = (version * 8 + count * 3 + 5) // (count * 4 - 4) * 2
    positions = [6, *sorted(last - step * i for i in range(count - 1))]
    centres = [
        (float(x) + 0.5, float(y) + 0.5)
        for x in positions
        for y in positions
        if not (x == 6 and y == 6) and not (x == 6 and y == last) and not (x == last and y == 6)
    ]
    # Nearest the finder patterns first: each found pattern sharpens the next prediction.
    return sorted(centres, key=lambda point: point[0] + point[1])


class _Grid:
    """Module coordinates -> image coordinates: a homography plus a quadratic correction."""

    def __init__(self, modules: Points, image: Points) -> None:
        found = cv2.findHomography(modules, image, 0)[0] if len(modules) >= 4 else None
        if found is None:
            affine = cv2.getAffineTransform(
                modules[:3].astype(np.float32), image[:3].astype(np.float32)
            )
            found = np.vstack([affine, [0, 0, 1]])
        self.homography: Points = np.asarray(found, dtype=np.float64)
        self.correction: Points | None = None
        # A bend is fitted only with enough points to pin it down: about twice as many
        # points as terms (cubic: 10 terms, quadratic: 6).
        self.terms = 10 if len(modules) >= 18 else 6 if len(modules) >= 10 else 0
        if self.terms:
            residual = image - self._projected(modules)
            basis = _polynomial(modules, self.terms)
            # Barely damped: just enough to keep the solve well posed.
            gram = basis.T @ basis + np.eye(basis.shape[1]) * 1e-6 * len(modules)
            self.correction = np.asarray(np.linalg.solve(gram, basis.T @ residual), np.float64)

    def __call__(self, modules: Points) -> Points:
        mapped = self._projected(modules)
        if self.correction is not None:
            mapped = mapped + _polynomial(modules, self.terms) @ self.correction
        return mapped

    def _projected(self, modules: Points) -> Points:
        ones = np.ones((len(modules), 1))
        projected = np.hstack([modules, ones]) @ self.homography.T
        # A degenerate fit can put points at infinity: they come out as -1 (off the image,
        # sampled as the border) rather than as a warning or NaN.
        with np.errstate(divide="ignore", invalid="ignore"):
            mapped = projected[:, :2] / projected[:, 2:3]
        return np.where(np.isfinite(mapped), mapped, -1.0)


def _polynomial(points: Points, terms: int) -> Points:
    """The first ``terms`` polynomial terms in x and y up to the third degree (a cylinder's
    bend is odd in x: cubic)."""
    x, y = points[:, 0] / 50, points[:, 1] / 50
    every = [np.ones_like(x), x, y, x * x, x * y, y * y, x**3, x * x * y, x * y * y, y**3]
    return np.stack(every[:terms], axis=1)


def _fit(
    gray: Gray, corner: _Finder, right: _Finder, down: _Finder, dimension: int
) -> tuple[float, Gray] | None:
    far = dimension - 3.5
    modules = [(3.5, 3.5), (far, 3.5), (3.5, far)]
    image = [corner.center, right.center, down.center]
    # The finder patterns' outer corners fix a perspective before any alignment pattern is
    # looked for: an affine guess from three centres is modules off on a steep card.
    across = np.subtract(right.center, corner.center)
    along = np.subtract(down.center, corner.center)
    for finder, origin in (
        (corner, (0, 0)),
        (right, (dimension - 7, 0)),
        (down, (0, dimension - 7)),
    ):
        for x, y, seen in _named_corners(finder, across, along):
            modules.append((origin[0] + x, origin[1] + y))
            image.append(seen)
    # Three points fix an affine grid; each alignment pattern found adds a point.
    grid = _Grid(np.array(modules), np.array(image))
    scores: list[float] = []
    for centre in _alignment_centres(dimension):
        found = _find_alignment(gray, grid, centre)
        if found is None:
            continue
        score, point = found
        scores.append(score)
        modules.append(centre)
        image.append(point)
        if len(modules) >= 4:
            grid = _Grid(np.array(modules), np.array(image))
    if _alignment_centres(dimension) and not scores:
        return None
    dark = _sample(gray, grid, dimension)
    mask, expected = _function_patterns(dimension)
    # How well the fixed patterns (finders, separators, timing, alignment) came out tells
    # the right grid and size from a wrong one far better than any single match score.
    quality = float(np.mean(dark[mask] == expected[mask]))
    return quality, _draw(dark)


def _named_corners(
    finder: _Finder, across: Points, along: Points
) -> list[tuple[int, int, tuple[float, float]]]:
    """The finder's outer corners as (module x offset, module y offset, image point), told
    apart by which side of its centre they lie along the code's two axes."""
    if finder.corners is None:
        return []
    basis = np.linalg.inv(np.stack([across, along], axis=1))
    named: dict[tuple[int, int], tuple[float, float]] = {}
    for point in finder.corners:
        u, v = basis @ (point - np.asarray(finder.center))
        named[(7 if u > 0 else 0, 7 if v > 0 else 0)] = (float(point[0]), float(point[1]))
    if len(named) != 4:
        return []
    return [(x, y, point) for (x, y), point in named.items()]


def _find_alignment(
    gray: Gray, grid: _Grid, centre: tuple[float, float]
) -> tuple[float, tuple[float, float]] | None:
    """The alignment pattern near where ``grid`` predicts it: (score, image point)."""
    predicted = grid(np.array([centre]))[0]
    neighbours = grid(np.array([(centre[0] + 1, centre[1]), (centre[0], centre[1] + 1)]))
    module = float(np.mean(np.linalg.norm(neighbours - predicted, axis=1)))
    if not 1.5 <= module <= 80:
        return None
    template = _alignment_template(module)
    reach = round(module * 4) + template.shape[0] // 2
    x, y = round(predicted[0]), round(predicted[1])
    top, left = max(0, y - reach), max(0, x - reach)
    window = gray[top : y + reach + 1, left : x + reach + 1]
    if window.shape[0] <= template.shape[0] or window.shape[1] <= template.shape[1]:
        return None
    scores = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
    _, best, _, (bx, by) = cv2.minMaxLoc(scores)
    if best < _ALIGNMENT_SCORE:
        return None
    half = template.shape[0] / 2
    point = (left + bx + half - 0.5, top + by + half - 0.5)
    # Data modules can mimic the pattern; one far from where the grid expects it is taken
    # for such a mimic rather than allowed to bend the grid.
    if math.dist(point, (float(predicted[0]), float(predicted[1]))) > _MAX_SHIFT * module:
        return None
    return float(best), point


def _alignment_template(module: float) -> Gray:
    """A 5x5-module alignment pattern, ``module`` px each (its surroundings are data)."""
    pattern = np.zeros((5, 5), dtype=np.uint8)
    pattern[1:4, 1:4] = 255
    pattern[2, 2] = 0
    side = max(5, round(module * 5))
    return np.asarray(cv2.resize(pattern, (side, side), interpolation=cv2.INTER_AREA), np.uint8)


@lru_cache(maxsize=64)
def _function_patterns(dimension: int) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Where a code that size has fixed modules (mask) and which of them are dark."""
    mask = np.zeros((dimension, dimension), dtype=bool)
    dark = np.zeros((dimension, dimension), dtype=bool)
    finder = np.zeros((7, 7), dtype=bool)
    finder[[0, 6], :] = finder[:, [0, 6]] = True
    finder[2:5, 2:5] = True
    for top, left in ((0, 0), (0, dimension - 7), (dimension - 7, 0)):
        dark[top : top + 7, left : left + 7] = finder
        rows = slice(max(0, top - 1), top + 8)
        cols = slice(max(0, left - 1), left + 8)
        mask[rows, cols] = True  # the separator around it is light
    timing = np.arange(8, dimension - 8)
    mask[6, timing] = mask[timing, 6] = True
    dark[6, timing] = dark[timing, 6] = timing % 2 == 0
    alignment = np.ones((5, 5), dtype=bool)
    alignment[1:4, 1:4] = False
    alignment[2, 2] = True
    for x, y in _alignment_centres(dimension):
        col, row = int(x) - 2, int(y) - 2
        mask[row : row + 5, col : col + 5] = True
        dark[row : row + 5, col : col + 5] = alignment
    return mask, dark


def _sample(gray: Gray, grid: _Grid, dimension: int) -> npt.NDArray[np.bool_]:
    """Which modules are dark: each module's centre and four points around it, averaged."""
    offsets = ((0.0, 0.0), (0.2, 0.2), (-0.2, 0.2), (0.2, -0.2), (-0.2, -0.2))
    ys, xs = np.mgrid[0:dimension, 0:dimension]
    samples = []
    for dx, dy in offsets:
        modules = np.stack([xs.ravel() + 0.5 + dx, ys.ravel() + 0.5 + dy], axis=1)
        points = grid(modules.astype(np.float64)).astype(np.float32)
        mapx = points[:, 0].reshape(dimension, dimension)
        mapy = points[:, 1].reshape(dimension, dimension)
        samples.append(
            cv2.remap(gray, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        )
    values = np.mean(samples, axis=0).astype(np.uint8)
    # Light falls unevenly across a bent card: threshold each module against its
    # neighbourhood, not one level for the whole code.
    local = cv2.blur(values.astype(np.float32), (9, 9))
    threshold, _ = cv2.threshold(values, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    level = 0.5 * local + 0.5 * float(threshold)
    return np.asarray(values < level, dtype=bool)


def _draw(dark: npt.NDArray[np.bool_]) -> Gray:
    """The modules drawn flat: black on white, a quiet zone, ``MODULE_PX`` a module."""
    code = np.where(dark, 0, 255).astype(np.uint8)
    code = np.pad(code, QUIET_MODULES, constant_values=255)
    return np.asarray(
        cv2.resize(code, None, fx=MODULE_PX, fy=MODULE_PX, interpolation=cv2.INTER_NEAREST),
        np.uint8,
    )
