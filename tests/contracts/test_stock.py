"""Contract of `cloudtill.stock.ports.StockRepository`: conditional saves, the ledger and its cursors."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cloudtill.errors import InvalidCursor
from cloudtill.stock.dynamo import DynamoStockRepository
from cloudtill.stock.ports import StaleStock, StockRepository
from cloudtill.stock.rules import MovementRequest, StockChange, apply_movement, change_settings
from cloudtill.stock.transactions import state_from_item

from tests.contracts.conftest import Backend, sku_item
from tests.fakes import InMemoryStockRepository

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def repo(backend: Backend) -> StockRepository:
    if backend.fake:
        return InMemoryStockRepository()
    return DynamoStockRepository(backend.table, backend.client)


def given_sku(backend: Backend, repo: Any, sku: str, **counters: int) -> None:
    """A SKU as the catalog creates it."""
    item = sku_item(sku, **counters)
    if backend.fake:
        repo.states[sku] = state_from_item(item)
    else:
        backend.put(item)


def receive(repo: StockRepository, sku: str, quantity: int, minute: int = 0) -> StockChange:
    state = repo.get(sku)
    assert state is not None
    at = START + timedelta(minutes=minute)
    change = apply_movement(
        state, MovementRequest("receive", quantity, "delivery", unit_cost=100), at, at.isoformat()
    )
    repo.save(change, [])
    return change


def test_an_unknown_sku_has_no_stock(repo: StockRepository) -> None:
    assert repo.get("NOPE") is None


def test_a_saved_change_is_what_get_returns(backend: Backend, repo: StockRepository) -> None:
    given_sku(backend, repo, "A")
    change = receive(repo, "A", 5)
    assert repo.get("A") == change.after
    assert (change.after.on_hand, change.after.version) == (5, 1)


def test_a_change_computed_from_an_old_read_is_refused(backend: Backend, repo: StockRepository) -> None:
    given_sku(backend, repo, "A")
    before = repo.get("A")
    assert before is not None
    receive(repo, "A", 5)  # someone else wrote meanwhile
    stale = apply_movement(before, MovementRequest("receive", 2, "delivery", unit_cost=100), START, "t")
    with pytest.raises(StaleStock):
        repo.save(stale, [])
    state = repo.get("A")
    assert state is not None and state.on_hand == 5


def test_the_same_change_saved_twice_is_refused_the_second_time(
    backend: Backend, repo: StockRepository
) -> None:
    given_sku(backend, repo, "A")
    change = receive(repo, "A", 3)
    with pytest.raises(StaleStock):
        repo.save(change, [])
    state = repo.get("A")
    assert state is not None and state.on_hand == 3


def test_a_settings_change_without_movement_is_conditional_too(
    backend: Backend, repo: StockRepository
) -> None:
    given_sku(backend, repo, "A")
    before = repo.get("A")
    assert before is not None
    repo.save(change_settings(before, 2, 4), [])
    after = repo.get("A")
    assert after is not None and (after.low_stock_threshold, after.backorder_limit) == (2, 4)
    assert repo.list_movements("A", 10, None) == ([], None)
    with pytest.raises(StaleStock):
        repo.save(change_settings(before, 3, None), [])


def test_a_save_for_a_sku_that_does_not_exist_is_refused(backend: Backend, repo: StockRepository) -> None:
    given_sku(backend, repo, "A")
    state = repo.get("A")
    assert state is not None
    ghost = replace(state, sku="GHOST")
    change = apply_movement(ghost, MovementRequest("receive", 1, "delivery", unit_cost=1), START, "t")
    with pytest.raises(StaleStock):
        repo.save(change, [])
    assert repo.get("GHOST") is None


def test_the_ledger_pages_newest_first_until_the_last_page(backend: Backend, repo: StockRepository) -> None:
    given_sku(backend, repo, "A")
    for minute in range(5):
        receive(repo, "A", minute + 1, minute)
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        page, cursor = repo.list_movements("A", 2, cursor)
        pages += 1
        seen += [m.quantity for m in page]
        if cursor is None:
            break
        assert pages < 10
    assert seen == [5, 4, 3, 2, 1]
    assert pages == 3


def test_a_ledger_of_exactly_one_page_ends_on_that_page_or_an_empty_next(
    backend: Backend, repo: StockRepository
) -> None:
    given_sku(backend, repo, "A")
    receive(repo, "A", 1, 0)
    receive(repo, "A", 2, 1)
    page, cursor = repo.list_movements("A", 2, None)
    assert [m.quantity for m in page] == [2, 1]
    # DynamoDB may hand out a cursor when the page is exactly full; the page after it is empty.
    if cursor is not None:
        assert repo.list_movements("A", 2, cursor) == ([], None)


def test_a_cursor_of_another_skus_ledger_is_refused(backend: Backend, repo: StockRepository) -> None:
    given_sku(backend, repo, "A")
    given_sku(backend, repo, "B")
    for minute in range(3):
        receive(repo, "A", 1, minute)
        receive(repo, "B", 1, minute)
    _, cursor_of_a = repo.list_movements("A", 1, None)
    assert cursor_of_a is not None
    with pytest.raises(InvalidCursor):
        repo.list_movements("B", 1, cursor_of_a)


@pytest.mark.parametrize("cursor", ["not-a-cursor", "", "e30", "W10"])
def test_a_cursor_this_port_did_not_issue_is_refused(
    backend: Backend, repo: StockRepository, cursor: str
) -> None:
    given_sku(backend, repo, "A")
    receive(repo, "A", 1)
    with pytest.raises(InvalidCursor):
        repo.list_movements("A", 1, cursor)
