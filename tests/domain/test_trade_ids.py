"""``TradeIds``: a position's set of applied trade ids, shared between its versions so that adding one
costs O(1). Every version must still read as the set it was: checked against plain frozensets
under random histories that branch (an old version added to after newer ones exist)."""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from hypothesis import given
from hypothesis import strategies as st

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.positions import Position, TradeIds

# (which existing version to add to, which id): versions may be old ones, ids may repeat
STEPS = st.lists(st.tuples(st.integers(min_value=0, max_value=1_000), st.sampled_from("abcdefghij")), max_size=60)


@given(STEPS)
def test_every_version_reads_as_the_set_it_was(steps: list[tuple[int, str]]) -> None:
    versions = [TradeIds()]
    expected: list[frozenset[str]] = [frozenset()]
    for pick, trade_id in steps:
        k = pick % len(versions)
        versions.append(versions[k].add(trade_id))
        expected.append(expected[k] | {trade_id})
        for version, reference in zip(versions, expected, strict=True):  # none of them changed
            assert len(version) == len(reference)
            assert set(version) == reference
            as_set: AbstractSet[str] = version
            assert as_set == reference
            assert all((c in version) == (c in reference) for c in "abcdefghijz")


def test_adding_an_id_already_there_returns_the_same_set_and_a_set_compares_as_a_set() -> None:
    ids = TradeIds(["t1", "t2"])
    assert ids.add("t1") is ids
    as_set: AbstractSet[str] = ids
    assert as_set == frozenset({"t2", "t1"})
    assert hash(ids) == hash(frozenset({"t1", "t2"}))
    assert ids | {"t3"} == frozenset({"t1", "t2", "t3"})
    assert Position(InstrumentId("X:A/B"), trade_ids=frozenset({"a"})).trade_ids == {"a"}  # a plain set is taken
    assert 1 not in ids  # type: ignore[comparison-overlap]
