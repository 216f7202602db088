"""Independent fits spread over worker processes, one CPU thread each.

The decoders of the paper are small: a batched step uses one thread poorly and a second thread
barely better, so two processes of one thread each finish a list of fits sooner than one process
with two threads. Workers are started with ``spawn`` (a fork of a process whose OpenMP pool is
running can hang). Tasks travel by ``cloudpickle``, so a notebook's own functions (a reference
geometry defined in a cell) work in them; what a task returns comes back pickled (estimators,
their ``torch.Generator`` state included).
"""
from __future__ import annotations

import os
import pickle
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context

import cloudpickle

WORKERS_VARIABLE = "RGD_WORKERS"


def current_workers(default=1):
    """How many worker processes fits may use, from ``RGD_WORKERS`` (default 1: in this process)."""
    value = os.environ.get(WORKERS_VARIABLE, str(default))
    try:
        workers = int(value)
    except ValueError:
        workers = 0
    if workers < 1:
        raise ValueError(f"{WORKERS_VARIABLE}={value!r} is not a worker count; use a whole number "
                         "≥ 1 (1 fits everything in this process)")
    return workers


def run_tasks(function, tasks, workers=None, on_result=None):
    """``[function(*task) for task in tasks]``, in ``workers`` processes when there are more tasks
    than one (``None``: :func:`current_workers`). Results keep the tasks' order; a task's error is
    raised here. ``on_result(index, result)``, if given, is called in this process as each task
    finishes (to save work as it completes)."""
    tasks = list(tasks)
    workers = current_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers={workers} must be ≥ 1")
    report = on_result or (lambda index, result: None)
    if workers == 1 or len(tasks) < 2:
        results = []
        for index, task in enumerate(tasks):
            results.append(function(*task))
            report(index, results[-1])
        return results
    with ProcessPoolExecutor(min(workers, len(tasks)), mp_context=get_context("spawn"),
                             initializer=_one_thread) as pool:
        futures = {pool.submit(_run_pickled, cloudpickle.dumps((function, task))): index
                   for index, task in enumerate(tasks)}
        for future in as_completed(futures):
            report(futures[future], future.result())
        return [future.result() for future in futures]


def split_evenly(items, parts):
    """``items`` in at most ``parts`` contiguous chunks whose lengths differ by at most one."""
    items = list(items)
    parts = max(1, min(parts, len(items)))
    size, extra = divmod(len(items), parts)
    chunks, start = [], 0
    for i in range(parts):
        stop = start + size + (i < extra)
        chunks.append(items[start:stop])
        start = stop
    return chunks


def _run_pickled(payload):
    function, task = pickle.loads(payload)
    return function(*task)


def _one_thread():
    """A worker uses one thread and draws no progress bars (they would interleave)."""
    os.environ["TQDM_DISABLE"] = "1"  # before tqdm is imported: it reads its settings then
    import torch

    torch.set_num_threads(1)
