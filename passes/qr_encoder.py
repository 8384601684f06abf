"""A fast QR encoder that makes exactly the symbol python-qrcode makes, in pure Python.

python-qrcode (the reference, still used for SVG and by the tests) spends ~85% of a pass's
~16 ms choosing the mask: it builds the whole matrix eight times and scores each one module by
module. Here the matrix is built once per text and scored for all eight masks with whole-matrix
integer arithmetic: every row (and, separately, every column) is packed into one big ``int``,
``n`` module bits then one padding bit per line, and each ISO/IEC 18004 penalty rule becomes a
handful of shifts, ANDs and ``bit_count`` calls over the whole symbol. The result is identical
to python-qrcode's for every input (same mode, version, mask, module for module: the tests
compare them), including its quirks: it scores the masks with the format and version areas
and the fixed dark module left light, and it counts a finder-like run ``1011101`` with four
light modules on either side once per side, only inside the symbol.

Only static tables come from python-qrcode (block sizes, alignment positions, BCH words,
bit limits); the layout per version is computed once and kept (module positions only: nothing
about any text is cached). ``numpy`` is not available here (``passes`` is the pure core).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from itertools import chain

import qrcode.constants
from qrcode import base as _qr_base
from qrcode import util as _qr_util

ERROR_CORRECTION_Q = qrcode.constants.ERROR_CORRECT_Q
"""python-qrcode's constant for level Q (25% of codewords recoverable)."""

_MODE_NUMBER = 1
_MODE_ALPHA_NUM = 2
_MODE_8BIT_BYTE = 4
_ALPHA_NUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_ALPHA_NUM_RE = re.compile("[" + re.escape(_ALPHA_NUM) + "]*")
_PAIRS = re.compile(".{2}", re.DOTALL)
_TRIPLES = re.compile(".{3}", re.DOTALL)
_ALPHA_PAIR_BITS = {
    a + b: format(_ALPHA_NUM.index(a) * 45 + _ALPHA_NUM.index(b), "011b")
    for a in _ALPHA_NUM
    for b in _ALPHA_NUM
}
_DIGIT_TRIPLE_BITS = {f"{number:03d}": format(number, "010b") for number in range(1000)}
_PAD_BYTES = b"\xec\x11"


class QrDataOverflowError(ValueError):
    """The text does not fit in a version-40 symbol at the requested level."""


@dataclass(frozen=True, slots=True)
class QrSymbol:
    """An encoded symbol: ``rows`` of ``'0'``/``'1'`` (dark) strings, quiet zone excluded."""

    version: int
    mask: int
    rows: tuple[str, ...]

    @property
    def size(self) -> int:
        """Modules per side (``4 * version + 17``)."""
        return len(self.rows)


def encode(text: str, error_correction: int = ERROR_CORRECTION_Q) -> QrSymbol:
    """The QR symbol python-qrcode makes for ``QRCode(error_correction).add_data(text,
    optimize=0); make(fit=True)``: smallest version, one segment, best mask by its scoring.

    Raises ``QrDataOverflowError`` when the text does not fit any version.
    """
    data = text.encode("utf-8")
    mode = _mode(data)
    payload = _payload_bits(mode, data)
    version = _best_version(mode, len(data), len(payload), error_correction)
    layout = _layout(version, error_correction)
    codewords = _codewords(mode, len(data), payload, version, error_correction)
    bits = format(int.from_bytes(codewords, "big"), f"0{8 * len(codewords)}b")
    source = bits + "01"  # the layout's constant modules index these last two characters
    rows = int("".join(layout.row_getter(source)), 2)
    columns = int("".join(layout.column_getter(source)), 2)
    best_mask, best_score = 0, -1
    for mask in range(8):
        score = layout.score(rows ^ layout.row_masks[mask], columns ^ layout.column_masks[mask])
        if best_score < 0 or score < best_score:
            best_mask, best_score = mask, score
    final = rows ^ layout.row_masks[best_mask] | layout.formats[best_mask]
    return QrSymbol(version, best_mask, layout.unpack(final))


def _mode(data: bytes) -> int:
    """python-qrcode's ``optimal_mode`` for one segment."""
    if data.isdigit():
        return _MODE_NUMBER
    if _ALPHA_NUM_RE.fullmatch(data.decode("latin-1")):
        return _MODE_ALPHA_NUM
    return _MODE_8BIT_BYTE


def _payload_bits(mode: int, data: bytes) -> str:
    """The segment's data bits (without mode and length) as a '0'/'1' string."""
    if mode == _MODE_8BIT_BYTE:
        return format(int.from_bytes(data, "big"), f"0{8 * len(data)}b") if data else ""
    text = data.decode("ascii")
    if mode == _MODE_ALPHA_NUM:
        bits = "".join(map(_ALPHA_PAIR_BITS.__getitem__, _PAIRS.findall(text)))
        if len(text) % 2:
            bits += format(_ALPHA_NUM.index(text[-1]), "06b")
        return bits
    bits = "".join(map(_DIGIT_TRIPLE_BITS.__getitem__, _TRIPLES.findall(text)))
    rest = len(text) % 3
    if rest:
        bits += format(int(text[-rest:]), "07b" if rest == 2 else "04b")
    return bits


def _length_bits(mode: int, version: int) -> int:
    sizes: dict[int, int] = _qr_util.mode_sizes_for_version(version)
    return sizes[mode]


def _best_version(mode: int, length: int, payload_bits: int, error_correction: int) -> int:
    """The smallest version whose data capacity holds the segment (python-qrcode's best_fit)."""
    limits: list[int] = _qr_util.BIT_LIMIT_TABLE[error_correction]
    for version in range(1, 41):
        if 4 + _length_bits(mode, version) + payload_bits <= limits[version]:
            return version
    raise QrDataOverflowError(f"{length} bytes do not fit a QR code at this level")


def _codewords(mode: int, length: int, payload: str, version: int, error_correction: int) -> bytes:
    """Data codewords (terminated, padded) and their Reed-Solomon codewords, interleaved."""
    blocks = _qr_base.rs_blocks(version, error_correction)
    limit = sum(block.data_count for block in blocks) * 8
    bits = format(mode, "04b") + format(length, f"0{_length_bits(mode, version)}b") + payload
    bits += "0" * min(limit - len(bits), 4)
    bits += "0" * (-len(bits) % 8)
    data = int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""
    fill = limit // 8 - len(data)
    data += (_PAD_BYTES * (fill // 2 + 1))[:fill]
    data_blocks: list[bytes] = []
    ec_blocks: list[bytes] = []
    offset = 0
    for block in blocks:
        chunk = data[offset : offset + block.data_count]
        offset += block.data_count
        data_blocks.append(chunk)
        ec_blocks.append(_reed_solomon(chunk, block.total_count - block.data_count))
    return _interleave(data_blocks) + _interleave(ec_blocks)


def _interleave(blocks: list[bytes]) -> bytes:
    """Codeword i of every block, then codeword i + 1 ...: blocks differ by at most one."""
    shortest = min(len(block) for block in blocks)
    common = bytes(chain.from_iterable(zip(*(block[:shortest] for block in blocks), strict=True)))
    return common + bytes(block[shortest] for block in blocks if len(block) > shortest)


def _reed_solomon(data: bytes, ec_count: int) -> bytes:
    """The ``ec_count`` error-correction codewords of ``data`` (the remainder of
    ``data * x^ec_count`` by the generator), by a shift register held in one int: adding
    a multiple of the generator is a bytewise XOR, so one XOR per data byte."""
    table = _generator_multiples(ec_count)
    shift = 8 * (ec_count - 1)
    keep = (1 << (8 * ec_count)) - 1
    register = 0
    for byte in data:
        register = ((register << 8) & keep) ^ table[byte ^ (register >> shift)]
    return register.to_bytes(ec_count, "big")


@cache
def _generator_multiples(ec_count: int) -> tuple[int, ...]:
    """For each factor f, f times the generator's non-leading coefficients, packed as an int."""
    exp: list[int] = _qr_base.EXP_TABLE
    log: list[int] = _qr_base.LOG_TABLE
    generator = [1]  # coefficients, highest power first
    for power in range(ec_count):
        root = exp[power]
        shifted = [*generator, 0]
        for index, coefficient in enumerate(generator):
            if coefficient:
                shifted[index + 1] ^= exp[(log[coefficient] + log[root]) % 255]
        generator = shifted
    tail = generator[1:]
    multiples = [0]
    for factor in range(1, 256):
        products = bytes(exp[(log[factor] + log[value]) % 255] if value else 0 for value in tail)
        multiples.append(int.from_bytes(products, "big"))
    return tuple(multiples)


# --- the per-version layout ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where everything goes in one version's symbol, packed for whole-matrix arithmetic.

    Lines are packed into an int by ``int(string, 2)`` of ``n`` module characters plus one
    padding '0' per line (rows top to bottom; for ``columns``, columns left to right), so the
    padding bits keep runs and patterns from joining across lines.
    """

    size: int
    row_getter: Callable[[str], tuple[str, ...]]
    column_getter: Callable[[str], tuple[str, ...]]
    row_masks: tuple[int, ...]
    column_masks: tuple[int, ...]
    formats: tuple[int, ...]
    modules: int
    """Bits that are modules (not padding)."""
    pairs: int
    """Modules with a module before them in their line (the next-higher bit)."""
    above: int
    """Modules with a line before them (``size + 1`` bits higher): all but the first line."""

    def unpack(self, packed: int) -> tuple[str, ...]:
        width = self.size + 1
        text = format(packed, f"0{self.size * width}b")
        return tuple(text[start : start + self.size] for start in range(0, len(text), width))

    def score(self, rows: int, columns: int) -> int:
        """python-qrcode's ``lost_point`` of the masked symbol (rules N1 to N4)."""
        width = self.size + 1
        same = ~(rows ^ (rows >> 1)) & self.pairs
        square = same & (same >> width) & ~(rows ^ (rows >> width)) & self.above
        score = 3 * square.bit_count()
        score += self._runs_and_finders(rows, same)
        score += self._runs_and_finders(columns, ~(columns ^ (columns >> 1)) & self.pairs)
        dark = rows.bit_count()
        percent = float(dark) / (self.size**2)
        return score + int(abs(percent * 100 - 50) / 5) * 10

    def _runs_and_finders(self, lines: int, same: int) -> int:
        # N1: a run of L >= 5 equal modules is L - 1 ones in `same`, L - 4 ones in `four`.
        four = same & (same >> 1) & (same >> 2) & (same >> 3)
        score = four.bit_count() + 2 * (four & ~(four >> 1)).bit_count()
        # N3: 1011101 with 0000 after or before it; bit k of the pattern sits k bits higher.
        dark = lines
        light = ~lines & self.modules
        core = (light >> 9) & (dark >> 6) & (light >> 5) & (dark >> 4) & (light >> 1)
        first = (
            core & (dark >> 10) & (dark >> 8) & (dark >> 7) & (light >> 3) & (light >> 2) & light
        )
        second = (
            core & (light >> 10) & (light >> 8) & (light >> 7) & (dark >> 3) & (dark >> 2) & dark
        )
        return score + 40 * (first.bit_count() + second.bit_count())


@cache
def _layout(version: int, error_correction: int) -> _Layout:
    size = 4 * version + 17
    grid = _function_patterns(version)
    places = _data_places(grid)
    blocks = _qr_base.rs_blocks(version, error_correction)
    codeword_bits = 8 * sum(block.total_count for block in blocks)
    zero, one = codeword_bits, codeword_bits + 1
    index = [[zero if cell is not True else one for cell in row] for row in grid]
    for order, (row, column) in enumerate(places):
        index[row][column] = order if order < codeword_bits else zero
    row_order = [value for line in index for value in (*line, zero)]
    column_order = [value for line in zip(*index, strict=True) for value in (*line, zero)]
    is_data = [[cell is None for cell in row] for row in grid]

    def pack(predicate: Callable[[int, int], bool], transpose: bool = False) -> int:
        chars = []
        for outer in range(size):
            for inner in range(size):
                row, column = (inner, outer) if transpose else (outer, inner)
                chars.append("1" if predicate(row, column) else "0")
            chars.append("0")
        return int("".join(chars), 2)

    row_masks, column_masks, formats = [], [], []
    for mask in range(8):
        rule = _MASKS[mask]

        def masked(row: int, column: int, rule: Callable[[int, int], bool] = rule) -> bool:
            return is_data[row][column] and rule(row, column)

        row_masks.append(pack(masked))
        column_masks.append(pack(masked, transpose=True))
        marks = _format_marks(version, error_correction, mask)

        def marked(row: int, column: int, marks: set[tuple[int, int]] = marks) -> bool:
            return (row, column) in marks

        formats.append(pack(marked))
    return _Layout(
        size=size,
        row_getter=operator.itemgetter(*row_order),
        column_getter=operator.itemgetter(*column_order),
        row_masks=tuple(row_masks),
        column_masks=tuple(column_masks),
        formats=tuple(formats),
        modules=pack(lambda row, column: True),
        pairs=pack(lambda row, column: column >= 1),
        above=pack(lambda row, column: row >= 1),
    )


_MASKS: tuple[Callable[[int, int], bool], ...] = (
    lambda i, j: (i + j) % 2 == 0,
    lambda i, j: i % 2 == 0,
    lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i * j) % 3 + (i + j) % 2) % 2 == 0,
)


def _function_patterns(version: int) -> list[list[bool | None]]:
    """Finder, separator, alignment and timing modules (True dark, False light); the format
    and version areas and the fixed dark module reserved as light; data cells None."""
    size = 4 * version + 17
    grid: list[list[bool | None]] = [[None] * size for _ in range(size)]
    for top, left in ((0, 0), (size - 7, 0), (0, size - 7)):
        _draw_finder(grid, top, left)
    positions: list[int] = _qr_util.pattern_position(version)
    for row in positions:
        for column in positions:
            if grid[row][column] is None:  # not where a finder already is
                _draw_alignment(grid, row, column)
    for k in range(8, size - 8):
        if grid[k][6] is None:
            grid[k][6] = k % 2 == 0
        if grid[6][k] is None:
            grid[6][k] = k % 2 == 0
    for row, column in _format_cells(version):
        grid[row][column] = False
    return grid


def _draw_finder(grid: list[list[bool | None]], top: int, left: int) -> None:
    """A 7x7 finder pattern with its light separator, clipped to the symbol."""
    size = len(grid)
    for r in range(-1, 8):
        for c in range(-1, 8):
            if 0 <= top + r < size and 0 <= left + c < size:
                grid[top + r][left + c] = (
                    (0 <= r <= 6 and c in {0, 6})
                    or (0 <= c <= 6 and r in {0, 6})
                    or (2 <= r <= 4 and 2 <= c <= 4)
                )


def _draw_alignment(grid: list[list[bool | None]], row: int, column: int) -> None:
    for r in range(-2, 3):
        for c in range(-2, 3):
            grid[row + r][column + c] = r in (-2, 2) or c in (-2, 2) or r == c == 0


def _format_cells(version: int) -> list[tuple[int, int]]:
    """Format-info cells (15 bits, vertical then horizontal), the dark module, version info."""
    size = 4 * version + 17
    cells: list[tuple[int, int]] = []
    for i in range(15):
        cells.append((i if i < 6 else i + 1 if i < 8 else size - 15 + i, 8))
    for i in range(15):
        cells.append((8, size - i - 1 if i < 8 else 15 - i if i < 9 else 15 - i - 1))
    cells.append((size - 8, 8))
    if version >= 7:
        for i in range(18):
            cells.append((i // 3, i % 3 + size - 11))
        for i in range(18):
            cells.append((i % 3 + size - 11, i // 3))
    return cells


def _format_marks(version: int, error_correction: int, mask: int) -> set[tuple[int, int]]:
    """The dark cells among ``_format_cells`` for the final symbol with ``mask``."""
    info: int = _qr_util.BCH_type_info((error_correction << 3) | mask)
    cells = _format_cells(version)
    bits = [(info >> i) & 1 for i in range(15)] * 2 + [1]
    if version >= 7:
        number: int = _qr_util.BCH_type_number(version)
        bits += [(number >> i) & 1 for i in range(18)] * 2
    return {cell for cell, bit in zip(cells, bits, strict=True) if bit}


def _data_places(grid: list[list[bool | None]]) -> list[tuple[int, int]]:
    """Data cells in placement order: two-column strips from the right, zigzagging."""
    size = len(grid)
    places: list[tuple[int, int]] = []
    upward = True
    column = size - 1
    while column > 0:
        if column == 6:
            column -= 1
        rows = range(size - 1, -1, -1) if upward else range(size)
        for row in rows:
            for c in (column, column - 1):
                if grid[row][c] is None:
                    places.append((row, c))
        upward = not upward
        column -= 2
    return places
