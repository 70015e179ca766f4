"""Training jobs side by side: results in the order given, the same on one or two worker processes."""

from functools import partial

from expbook.parallel import SCHEDULER_ENV, default_workers, process_map


def _scaled(shared: dict, item: int, offset: int = 0) -> int:
    return shared["factor"] * item + offset


def _malloc_setting(shared: None, name: str) -> str | None:
    import os

    return os.environ.get(name)


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


def test_on_the_build_s_shared_cluster_the_results_are_the_same():
    import os

    from expbook.run.dispatch import shared_cluster

    items = list(range(7))
    with shared_cluster(workers=2) as address:  # sets SCHEDULER_ENV to its address while it runs
        assert os.environ[SCHEDULER_ENV] == address
        on_cluster = list(process_map(partial(_scaled, offset=1), items, shared={"factor": 3}, workers=1))
        # Dask's default (65536) turns off glibc's adaptive mmap threshold: a training faulted in every tensor anew
        malloc = list(process_map(_malloc_setting, ["MALLOC_TRIM_THRESHOLD_"] * 2, shared=None, workers=1))
    assert on_cluster == [3 * i + 1 for i in items] and SCHEDULER_ENV not in os.environ
    assert malloc == [None, None]
