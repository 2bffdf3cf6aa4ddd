"""Two records of one scope (the migration's legacy item and the number's item) combine as if
both decisions had been applied to one record, in either order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stopsms.rules.eligibility import OPTED_IN, OPTED_OUT, Status
from stopsms.rules.scope_states import ScopeState, merged, outranks

T = datetime(2026, 3, 1, 9, tzinfo=UTC)


def state(status: Status, hours: int, *, opted_out: int | None = None) -> ScopeState:
    return ScopeState(
        "acme",
        status,
        T + timedelta(hours=hours),
        source=f"{status}@{hours}",
        updated_at=T,
        opted_out_at=None if opted_out is None else T + timedelta(hours=opted_out),
    )


@pytest.mark.parametrize(
    ("a", "b", "status", "at", "opted_out"),
    [
        # the later decision wins, whichever record holds it
        (state(OPTED_IN, 2), state(OPTED_OUT, 1), OPTED_IN, 2, 1),
        (state(OPTED_OUT, 1), state(OPTED_IN, 2), OPTED_IN, 2, 1),
        (state(OPTED_OUT, 3), state(OPTED_IN, 2), OPTED_OUT, 3, 3),
        # on equal instants the opt-out
        (state(OPTED_IN, 2), state(OPTED_OUT, 2), OPTED_OUT, 2, 2),
        (state(OPTED_OUT, 2), state(OPTED_IN, 2), OPTED_OUT, 2, 2),
        # the latest opt-out either record knew of is carried by the opt-in in force
        (state(OPTED_IN, 5, opted_out=1), state(OPTED_OUT, 3), OPTED_IN, 5, 3),
        (state(OPTED_IN, 5, opted_out=4), state(OPTED_OUT, 3), OPTED_IN, 5, 4),
        (state(OPTED_IN, 5, opted_out=1), state(OPTED_IN, 2, opted_out=2), OPTED_IN, 5, 2),
        # two opt-ins that never replaced an opt-out: none to carry
        (state(OPTED_IN, 5), state(OPTED_IN, 2), OPTED_IN, 5, None),
    ],
)
def test_the_decision_in_force_carries_the_latest_opt_out(
    a: ScopeState, b: ScopeState, status: Status, at: int, opted_out: int | None
) -> None:
    found = merged(a, b)
    assert found is not None
    assert (found.status, found.status_at) == (status, T + timedelta(hours=at))
    assert found.opted_out_at == (None if opted_out is None else T + timedelta(hours=opted_out))


def test_one_record_alone_is_itself() -> None:
    only = state(OPTED_OUT, 1)
    assert merged(only, None) is only
    assert merged(None, only) is only
    assert merged(None, None) is None


states = st.builds(
    state,
    st.sampled_from([OPTED_IN, OPTED_OUT]),
    st.integers(0, 6),
    opted_out=st.none() | st.integers(0, 6),
)


def decided(state: ScopeState | None) -> tuple[str, datetime, datetime | None]:
    """What a merge decides (its source and dates of record aside)."""
    assert state is not None
    return state.status, state.status_at, state.opted_out_at


@given(states, states)
def test_order_does_not_matter(a: ScopeState, b: ScopeState) -> None:
    assert decided(merged(a, b)) == decided(merged(b, a))


@given(states, states, states)
def test_three_records_combine_in_any_grouping(a: ScopeState, b: ScopeState, c: ScopeState) -> None:
    assert decided(merged(merged(a, b), c)) == decided(merged(a, merged(b, c)))


@given(states, states)
def test_an_opt_out_is_never_forgotten(a: ScopeState, b: ScopeState) -> None:
    found = merged(a, b)
    assert found is not None
    for one in (a, b):
        if one.status == OPTED_OUT:
            assert found.status == OPTED_OUT or found.opted_out_at is not None
            assert found.opted_out_at is not None
            assert found.opted_out_at >= one.status_at
    assert not outranks(a, found)
    assert not outranks(b, found)
