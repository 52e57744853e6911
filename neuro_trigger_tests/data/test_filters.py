"""Filter semantics on hand-made tables (SPEC section 4) and the safe filter parser."""
import numpy as np
import pytest

from neuro_trigger.data.filters import (ConCatFilter, DuplicateEventsFilter, ExpertFilter, Filter, FILTERS,
                                        IdentityFilter, Max2EventsFilter, RangeFilter, parse_filter)
from neuro_trigger.errors import UserError
from neuro_trigger_tests.conftest import make_tracks

# event, reco z, reco theta
TABLE = make_tracks(
    event=[1, 1, 1, 2, 2, 2, 2, 3, 1, 2],
    reco_z=[0.1, 0.1, 0.2, 0.3, 0.4, 0.5, 0.3, 0.6, 0.1, 0.5],
    reco_theta=[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.0],
    expert=[0, 1, 2, 0, 3, 4, 0, 1, 2, 0],
)


def test_duplicate_events_keeps_first_row_of_each_event_reco_track():
    # row 1 repeats row 0, row 6 repeats row 3, row 9 repeats row 5; row 8 differs in theta
    assert DuplicateEventsFilter().mask(TABLE).tolist() == [1, 0, 1, 1, 1, 1, 0, 1, 1, 0]


def test_same_reco_track_in_another_run_is_not_a_duplicate():
    tracks = make_tracks(event=[5, 5], reco_z=[0.1, 0.1], run=np.array([1, 2]))
    assert DuplicateEventsFilter().mask(tracks).tolist() == [True, True]


def test_max2_events_keeps_events_with_at_most_two_distinct_reco_tracks():
    # event 1: (0.1,0), (0.2,0), (0.1,0.1) -> 3 distinct; event 2: 0.3, 0.4, 0.5 -> 3; event 3: 1
    assert Max2EventsFilter().mask(TABLE).tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]
    small = make_tracks(event=[1, 1, 1, 2, 2, 2], reco_z=[0.1, 0.2, 0.1, 0.3, 0.4, 0.5])
    assert Max2EventsFilter().mask(small).tolist() == [1, 1, 1, 0, 0, 0]


def test_expert_range_identity_and_concat():
    assert ExpertFilter(0).mask(TABLE).tolist() == [1, 0, 0, 1, 0, 0, 1, 0, 0, 1]
    assert ExpertFilter(-1).mask(TABLE).all()
    assert IdentityFilter().mask(TABLE).all()
    assert RangeFilter(2, 5).mask(TABLE).tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0]
    both = ConCatFilter([ExpertFilter(0), DuplicateEventsFilter()])
    assert both.mask(TABLE).tolist() == [1, 0, 0, 1, 0, 0, 0, 0, 0, 0]


def test_hash_collisions_fall_back_to_exact_grouping(monkeypatch):
    from neuro_trigger.data import filters

    expected = (DuplicateEventsFilter().mask(TABLE), Max2EventsFilter().mask(TABLE))
    monkeypatch.setattr(filters, "_digest", lambda columns: np.zeros(len(columns[0]), dtype=np.uint64))
    assert DuplicateEventsFilter().mask(TABLE).tolist() == expected[0].tolist()
    assert Max2EventsFilter().mask(TABLE).tolist() == expected[1].tolist()


def test_filters_scale_to_a_million_rows_without_python_loops():
    rng = np.random.default_rng(0)
    n = 1_000_000
    tracks = make_tracks(event=rng.integers(0, n // 3, n), reco_z=rng.integers(0, 3, n) / 10)
    keep = Max2EventsFilter().mask(tracks) & DuplicateEventsFilter().mask(tracks)
    assert keep.dtype == bool and 0 < keep.sum() < n


def test_parser_builds_nested_filters():
    parsed = parse_filter("ConCatFilter([Max2EventsFilter(), DuplicateEventsFilter(), RangeFilter(0, 5)])")
    assert isinstance(parsed, ConCatFilter)
    assert [type(f).__name__ for f in parsed.filters] == ["Max2EventsFilter", "DuplicateEventsFilter", "RangeFilter"]
    assert parse_filter("ExpertFilter(expert=-1)").expert == -1
    assert parsed.mask(TABLE).tolist() == [0] * 10


@pytest.mark.parametrize("text, token", [
    ("__import__('os').system('touch PWNED')", "__import__('os').system"),
    ("EvilFilter()", "EvilFilter"),
    ("ConCatFilter([open('x')])", "open"),
    ("RangeFilter(1 + 2, 5)", "1 + 2"),
    ("IdentityFilter().__class__", "IdentityFilter().__class__"),
    ("ConCatFilter([IdentityFilter()", "does not parse"),
])
def test_parser_refuses_anything_but_filters_and_literals(text, token, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError) as error:
        parse_filter(text)
    assert token in str(error.value)
    assert not (tmp_path / "PWNED").exists()


def test_new_filters_register_by_subclassing():
    class EvenEventsFilter(Filter):
        def mask(self, tracks):
            return tracks.event % 2 == 0

    try:
        assert parse_filter("EvenEventsFilter()").mask(TABLE).tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 0, 1]
    finally:
        FILTERS.pop("EvenEventsFilter")
