"""Fits spread over worker processes: same results as in this process, errors named."""
import numpy as np
import pytest

from rgdkit.experiments import loop as E
from rgdkit.experiments import workers
from tests.test_together import SMALL, blobs


def scaled_by(factor):
    # a closure, as a notebook's reference function is: it must travel to the workers by value
    return lambda x: x * factor


def apply(function, value):
    return function(value)


def test_run_tasks_in_workers_keeps_order_and_carries_closures():
    tasks = [(scaled_by(3), v) for v in range(5)]
    assert workers.run_tasks(apply, tasks, workers=2) == [0, 3, 6, 9, 12]


@pytest.mark.parametrize("n_workers", [1, 2])
def test_run_tasks_reports_each_result_once_as_it_finishes(n_workers):
    seen = {}
    results = workers.run_tasks(apply, [(scaled_by(2), v) for v in range(4)], workers=n_workers,
                                on_result=seen.__setitem__)
    assert seen == dict(enumerate(results)) == {0: 0, 1: 2, 2: 4, 3: 6}


def fail_on_two(value):
    if value == 2:
        raise KeyError(f"task {value} failed")
    return value


def test_run_tasks_raises_a_task_error_here():
    # one task of three fails, so which worker finishes first cannot change the error raised
    with pytest.raises(KeyError, match="task 2 failed"):
        workers.run_tasks(fail_on_two, [(1,), (2,), (3,)], workers=2)


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_worker_count_from_environment_must_be_positive(monkeypatch, value):
    monkeypatch.setenv(workers.WORKERS_VARIABLE, value)
    with pytest.raises(ValueError, match="RGD_WORKERS"):
        workers.current_workers()


def test_split_evenly_covers_every_item_once():
    chunks = workers.split_evenly(range(7), 3)
    assert [len(c) for c in chunks] == [3, 2, 2]
    assert sum(chunks, []) == list(range(7))
    assert workers.split_evenly([1], 4) == [[1]]


@pytest.mark.parametrize("together", [True, False])
def test_fit_models_in_two_workers_scores_as_in_one_process(together):
    X = blobs(160)
    split = (np.arange(0, 110), np.arange(110, 130), np.arange(130, 160))
    labels = np.arange(160) % 3

    def reference(idx):  # a notebook-style closure over data of the caller
        return np.abs(labels[idx, None] - labels[None, idx]).astype(float)

    models = {"S²": dict(manifold="sphere"), "R²": dict(manifold="euclidean", noise_std=0.5)}
    runs = [E.fit_models(models, X, split, reference, [0, 1, 2], together=together,
                         workers=n, **SMALL)[0] for n in (1, 2)]
    alone, spread = runs
    assert [(r["model"], r["seed"]) for r in spread] == [(r["model"], r["seed"]) for r in alone]
    for a, b in zip(alone, spread):
        assert b["epochs_run"] == a["epochs_run"]
        assert b["train_pearson"] == pytest.approx(a["train_pearson"], abs=1e-6)
        assert b["test_pearson"] == pytest.approx(a["test_pearson"], abs=1e-6)
