"""Dataset filters (SPEC section 4): each maps loaded `Tracks` to a boolean keep-mask.

Filters are vectorised (sorts and group-bys over whole columns). A new filter subclasses
`Filter`; it is then known by its class name to `parse_filter`, which turns a config string
like "ConCatFilter([Max2EventsFilter(), DuplicateEventsFilter()])" into filter objects
without evaluating any code.
"""
import ast

import numpy as np

from neuro_trigger.constants import ALL_EXPERTS
from neuro_trigger.data.tracks import Tracks
from neuro_trigger.errors import UserError

FILTERS: dict[str, type["Filter"]] = {}


class Filter:
    """Base class; subclasses are registered under their class name."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        FILTERS[cls.__name__] = cls

    def mask(self, tracks: Tracks) -> np.ndarray:
        raise NotImplementedError

    def apply(self, tracks: Tracks) -> Tracks:
        keep = self.mask(tracks)
        return tracks if keep.all() else tracks.subset(keep)  # no copy when nothing is dropped

    def __repr__(self) -> str:
        args = ", ".join(repr(v) for v in vars(self).values())
        return f"{type(self).__name__}({args})"


def _key_columns(keys: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    """Every key column as uint64 bit patterns (floats by their bits, -0.0 folded into 0.0)."""
    columns = []
    for key in keys:
        for column in (key.T if key.ndim == 2 else [key]):
            if column.dtype.kind == "f":
                column = np.ascontiguousarray(column, dtype=np.float64) + 0.0
            columns.append(np.ascontiguousarray(column).view(np.uint64) if column.dtype.itemsize == 8
                           else column.astype(np.int64).view(np.uint64))
    return columns


def _digest(columns: list[np.ndarray]) -> np.ndarray:
    """One 64-bit word per row mixing all key columns (multiply-xorshift; uint64 arithmetic wraps)."""
    digest = np.zeros(len(columns[0]), dtype=np.uint64)
    for column in columns:
        digest ^= column
        digest *= np.uint64(0x9E3779B97F4A7C15)
        digest ^= digest >> np.uint64(31)
    return digest


def group_ids(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group rows with equal keys (each key (N,) or (N, k)).

    Returns (group id per row, first row of each group in file order). The keys are hashed into
    one 64-bit word and sorted once; equal hashes are then checked column by column, and only a
    hash collision (never seen in practice) falls back to an exact multi-key sort.
    """
    columns = _key_columns(keys)
    n = len(columns[0]) if columns else 0
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    digest = _digest(columns)
    order = np.argsort(digest)
    sorted_digest = digest[order]
    same = sorted_digest[1:] == sorted_digest[:-1]
    pairs = np.flatnonzero(same)
    later, earlier = order[pairs + 1], order[pairs]
    if not all(np.array_equal(c[later], c[earlier]) for c in columns):
        order = np.lexsort(columns[::-1])
        same = np.ones(n - 1, dtype=bool)
        for c in columns:
            sorted_c = c[order]
            same &= sorted_c[1:] == sorted_c[:-1]
    starts = np.flatnonzero(np.r_[True, ~same])
    ids = np.empty(n, dtype=np.int64)
    ids[order] = np.cumsum(np.r_[True, ~same]) - 1
    first = np.minimum.reduceat(order, starts)
    return ids, first


class IdentityFilter(Filter):
    """Keeps all rows."""

    def mask(self, tracks: Tracks) -> np.ndarray:
        return np.ones(len(tracks), dtype=bool)


def rows_of(expert: int, expert_of_row: np.ndarray) -> np.ndarray:
    """The rows (mask) the network of `expert` gets, all of them for -1: the one router of training, predict
    and the fixed-point twin."""
    return np.ones(len(expert_of_row), dtype=bool) if expert == ALL_EXPERTS else expert_of_row == expert


class ExpertFilter(Filter):
    """Keeps the rows of one expert; -1 keeps all."""

    def __init__(self, expert: int):
        if not isinstance(expert, int) or expert not in (ALL_EXPERTS, 0, 1, 2, 3, 4):
            raise UserError(f"ExpertFilter: expert must be -1 or 0..4, got {expert!r}")
        self.expert = expert

    def mask(self, tracks: Tracks) -> np.ndarray:
        return rows_of(self.expert, tracks.expert)


class DuplicateEventsFilter(Filter):
    """Of rows with the same event and the same (RecoZ, RecoTheta), keeps the first in file order."""

    def mask(self, tracks: Tracks) -> np.ndarray:
        _, first = group_ids(tracks.event_key, tracks.reco)
        keep = np.zeros(len(tracks), dtype=bool)
        keep[first] = True
        return keep


class Max2EventsFilter(Filter):
    """Keeps all rows of events with at most 2 distinct reco tracks (RecoZ, RecoTheta)."""

    def mask(self, tracks: Tracks) -> np.ndarray:
        event, _ = group_ids(tracks.event_key)
        _, first_of_reco_track = group_ids(tracks.event_key, tracks.reco)
        distinct_per_event = np.bincount(event[first_of_reco_track], minlength=event.max(initial=-1) + 1)
        return distinct_per_event[event] <= 2


class RangeFilter(Filter):
    """Keeps rows whose position in the loaded data is in [start, stop)."""

    def __init__(self, start: int, stop: int):
        if not (isinstance(start, int) and isinstance(stop, int)) or start < 0 or stop < start:
            raise UserError(f"RangeFilter: expected integers 0 <= start <= stop, got ({start!r}, {stop!r})")
        self.start, self.stop = start, stop

    def mask(self, tracks: Tracks) -> np.ndarray:
        position = np.arange(len(tracks))
        return (position >= self.start) & (position < self.stop)


class ConCatFilter(Filter):
    """AND of several filters."""

    def __init__(self, filters: list[Filter]):
        if not isinstance(filters, (list, tuple)) or not all(isinstance(f, Filter) for f in filters):
            raise UserError(f"ConCatFilter: expected a list of filters, got {filters!r}")
        self.filters = list(filters)

    def mask(self, tracks: Tracks) -> np.ndarray:
        keep = np.ones(len(tracks), dtype=bool)
        for f in self.filters:
            keep &= f.mask(tracks)
        return keep


def parse_filter(text: str) -> Filter:
    """Build a filter from its config string; only registered filter names and literals are accepted."""
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"filter: expected a filter expression such as 'IdentityFilter()', got {text!r}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise UserError(f"filter {text!r}: does not parse ({e.msg} at column {e.offset})") from None
    except UnicodeEncodeError:  # a lone surrogate ('\\ud800' in a Python literal) is no source text
        raise UserError(f"filter {text!r}: holds text that is not valid Unicode") from None
    value = _build(tree.body, text)
    if not isinstance(value, Filter):
        raise UserError(f"filter {text!r}: expected a filter call such as 'IdentityFilter()'")
    return value


def _build(node: ast.AST, text: str):
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FILTERS:
            name = ast.unparse(node.func)
            raise UserError(f"filter {text!r}: unknown filter {name!r}, expected one of {', '.join(sorted(FILTERS))}")
        args = [_build(a, text) for a in node.args]
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise UserError(f"filter {text!r}: '**' is not allowed")
            kwargs[kw.arg] = _build(kw.value, text)
        try:
            return FILTERS[node.func.id](*args, **kwargs)
        except TypeError as e:
            raise UserError(f"filter {text!r}: bad arguments for {node.func.id} ({e})") from None
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_build(e, text) for e in node.elts]
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, type(None))):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, (int, float)):
        return -node.operand.value
    raise UserError(f"filter {text!r}: {ast.unparse(node)!r} is not allowed, expected filter calls and literals")
