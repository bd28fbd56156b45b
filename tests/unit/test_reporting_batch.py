"""Batched counting, pure: merged increments are the sum of the single ones (a property), and the
batch use case keeps per-message outcomes (duplicates, malformed events, fallback one by one)."""

from __future__ import annotations

import random
from typing import Any

from cloudtill.reporting.aggregates import AggregateUpdate, UnusableEvent, merge_updates
from cloudtill.reporting.customers import CustomerOrder, CustomerState, FirstOrder
from cloudtill.reporting.service import count_event, count_events
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reporting_fakes import InMemoryAggregateStore
from tests.reporting_scenario import TIMEZONE, envelope, scenario

DAYS = ["2026-07-14", "2026-07-15", "2026-07-16"]
SKUS = ["A", "B", "C"]
HASHES = ["h1", "h2", "h3"]


@st.composite
def updates(draw: st.DrawFn) -> list[AggregateUpdate]:
    found = []
    for n in range(draw(st.integers(0, 12))):
        day = draw(st.sampled_from(DAYS))
        totals = draw(st.dictionaries(st.sampled_from(["orders", "tax", "refunds"]), st.integers(0, 50)))
        skus = draw(
            st.dictionaries(
                st.sampled_from(SKUS),
                st.dictionaries(st.sampled_from(["units", "revenue"]), st.integers(0, 9)),
            )
        )
        customer = None
        if draw(st.booleans()):
            hour = draw(st.integers(0, 23))
            customer = CustomerOrder(
                draw(st.sampled_from(HASHES)),
                f"ord_{n:02d}",
                f"{day}T{hour:02d}:00Z",
                day,
                draw(st.integers(0, 99)),
                draw(st.sampled_from(["ads", "mail"])),
            )
        names = {sku: draw(st.sampled_from(["x", "y"])) for sku in skus if draw(st.booleans())}
        found.append(AggregateUpdate(f"e{n}", day, totals, skus, names, None, customer))
    return found


stored_markers = st.dictionaries(
    st.sampled_from(HASHES),
    st.builds(
        lambda day, hour: CustomerState(
            FirstOrder(f"ord_old_{day}_{hour}", f"{day}T{hour:02d}:30Z", day),
            channel="ads",
            months=((day[:7], 1, 10),),
        ),
        st.sampled_from(DAYS),
        st.integers(0, 23),
    ),
)


@settings(max_examples=150, deadline=None)
@given(updates(), stored_markers)
def test_merged_increments_equal_the_sum_of_the_single_ones(
    batch: list[AggregateUpdate], stored: Any
) -> None:
    # One by one, on the in-memory store (the contract the DynamoDB adapter keeps per event)
    store = InMemoryAggregateStore()
    store.customers.update(stored)
    for update in batch:
        store.apply(update)

    merged = merge_updates(batch, dict(stored))

    def nonzero(counters: dict[str, int]) -> dict[str, int]:
        return {k: v for k, v in counters.items() if v}

    expected_totals = {d: nonzero(c) for d, c in store.totals.items() if nonzero(c)}
    assert merged.totals == expected_totals
    expected_skus = {(d, s): dict(c) for d, per in store.skus.items() for s, c in per.items() if c}
    assert {k: v for k, v in merged.skus.items() if v} == expected_skus
    expected_cells = {cell: nonzero(c) for cell, c in store.cells.items() if nonzero(c)}
    assert merged.cells == expected_cells
    for who, write in merged.markers.items():
        assert write.expected == stored.get(who)  # conditional on what was believed stored
        assert write.state == store.customers[who]  # the state one-by-one leaves
    assert set(merged.markers) == {u.customer.email_hash for u in batch if u.customer is not None}


def all_events() -> list[dict[str, Any]]:
    events = scenario()
    return events["orders"] + events["other"] + events["stock"] + events["late_stock"]


def test_a_batch_is_one_store_call() -> None:
    store = InMemoryAggregateStore()
    events = [e for e in all_events() if e["detail_type"] != "StockLow"][:10]

    assert count_events(store, events, TIMEZONE) == [True] * 10
    assert store.batches == 1


def test_batch_with_an_already_counted_event_falls_back_to_one_by_one() -> None:
    events = all_events()
    expected = InMemoryAggregateStore()
    for event in events:
        count_event(expected, event, TIMEZONE)

    store = InMemoryAggregateStore()
    for event in events[:3]:
        count_event(store, event, TIMEZONE)
    shuffled = list(events)
    random.Random(3).shuffle(shuffled)
    for start in range(0, len(shuffled), 10):
        outcomes = count_events(store, shuffled[start : start + 10], TIMEZONE)
        assert not [o for o in outcomes if isinstance(o, Exception)]

    assert dict(store.totals) == dict(expected.totals)
    assert store.skus == expected.skus
    assert store.customers == expected.customers
    assert store.stock == expected.stock


def test_malformed_and_repeated_events_get_their_own_outcome() -> None:
    store = InMemoryAggregateStore()
    order = all_events()[0]
    malformed = envelope("OrderConfirmed", "2026-07-15T10:00:00Z")
    del malformed["detail"]["lines"]

    outcomes = count_events(store, [order, malformed, order], TIMEZONE)

    assert outcomes[0] is True and outcomes[2] is False
    assert isinstance(outcomes[1], UnusableEvent)


def test_only_the_newest_stock_movement_of_a_sku_is_written() -> None:
    events = scenario()
    tee = [e for e in events["stock"] + events["late_stock"] if e["detail"]["sku"] == "TEE-BLK-M"]
    tee = [e for e in tee if e["detail_type"] == "StockAdjusted"]
    assert len(tee) >= 2
    store = InMemoryAggregateStore()

    count_events(store, tee, TIMEZONE)

    newest = max(e["detail"]["movement_id"] for e in tee)
    assert store.stock["TEE-BLK-M"]["movement_id"] == newest


class ConflictingClient:
    """A DynamoDB client whose transactions are cancelled by a conflict on every item, `times` times."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.calls: list[str] = []

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        self.calls.append("transact_write_items")
        if self.times:
            self.times -= 1
            reasons = [{"Code": "TransactionConflict"} for _ in kwargs["TransactItems"]]
            raise ClientError(
                {"Error": {"Code": "TransactionCanceledException"}, "CancellationReasons": reasons},
                "TransactWriteItems",
            )
        return {}


def test_a_conflict_on_the_dedupe_item_is_not_taken_for_a_redelivery() -> None:
    import pytest
    from cloudtill.reporting.dynamo import DynamoAggregateStore

    order = all_events()[0]
    # Alone: the conflict is raised (the queue redelivers), never reported as "already counted"
    with pytest.raises(Exception, match="TransactionCanceled"):
        count_event(DynamoAggregateStore("t", client=ConflictingClient(times=1)), order, TIMEZONE)
    # In a batch: the group is retried one by one and the event counts
    client = ConflictingClient(times=1)
    assert count_events(DynamoAggregateStore("t", client=client), [order], TIMEZONE) == [True]
    assert client.calls == ["transact_write_items"] * 2
