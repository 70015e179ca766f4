"""Training jobs side by side: results in the order given, the same on one or two worker processes."""

from functools import partial

from expbook.run.workers import default_workers, process_map


def _scaled(shared: dict, item: int, offset: int = 0) -> int:
    return shared["factor"] * item + offset


def test_results_keep_the_order_of_the_items_on_any_number_of_workers():
    items = list(range(7))
    serial = list(process_map(_scaled, items, shared={"factor": 3}, workers=1))
    parallel = list(process_map(partial(_scaled, offset=1), items, shared={"factor": 3}, workers=2))
    assert serial == [3 * i for i in items] and parallel == [3 * i + 1 for i in items]


def test_the_thread_budget_of_the_run_sets_the_default(monkeypatch):
    monkeypatch.setenv("EXPBOOK_THREADS", "3")
    assert default_workers() == 3
    monkeypatch.delenv("EXPBOOK_THREADS")
    assert default_workers() >= 1
