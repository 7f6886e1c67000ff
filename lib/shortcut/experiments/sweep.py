"""Resumable sweeps: independent jobs, one run record each, dispatched through any executor.

A job is a dict of plain values (its *key*); ``fn(job)`` computes a dict of results. ``run_sweep``
skips every job whose record already exists, submits the rest to a ``concurrent.futures``-style
executor and writes each record (atomically, by the driver) as soon as its job finishes — so an
interrupted sweep loses only the jobs in flight, and re-running it finishes the rest.

Executors (:func:`make_executor`): ``inline`` (in this process, one job at a time — the default),
``process`` (a local process pool), ``dask`` (a Dask ``distributed`` cluster: a ``LocalCluster`` or a
scheduler address, e.g. one started on Slurm with ``dask-jobqueue``; Dask re-runs the jobs of a
worker that dies). ``fn`` must be a module-level function for the process and Dask executors.
"""

from __future__ import annotations

import contextlib
import logging
import os
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import Callable, Iterable, Iterator

from tqdm.std import tqdm

from .records import has_record, usable_record, write_record

log = logging.getLogger(__name__)

EXECUTORS = ("inline", "process", "dask")
WAKE_S = 0.5  # the driver's longest sleep while jobs run: how late it may notice a Ctrl-C


class InlineExecutor(Executor):
    """Runs each job when it is submitted, in this process (exceptions land in the future)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as err:  # noqa: BLE001 - handed to the caller through the future
            fut.set_exception(err)
        return fut


@contextlib.contextmanager
def make_executor(kind: str = "inline", workers: int | None = None, address: str | None = None) -> Iterator[Executor]:
    """A context-managed executor of ``kind`` (one of EXECUTORS)."""
    if kind == "inline":
        yield InlineExecutor()
    elif kind == "process":
        from concurrent.futures import ProcessPoolExecutor
        import multiprocessing

        ex = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        try:
            yield ex
        except BaseException:
            _end_now(ex)
            raise
        ex.shutdown(wait=True)
    elif kind == "dask":
        try:
            from distributed import Client, LocalCluster
        except ImportError as err:  # pragma: no cover - depends on the install
            raise ImportError("executor='dask' needs dask.distributed: pip install -e '.[cluster]'") from err
        if address:
            with Client(address) as client:
                yield client.get_executor()
        else:
            with LocalCluster(n_workers=workers or os.cpu_count(), threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                yield client.get_executor()
    else:
        raise ValueError(f"unknown executor {kind!r}; allowed: {', '.join(EXECUTORS)}")


def _end_now(ex) -> None:
    """Interrupted: end a process pool's workers now instead of waiting for the jobs they run (minutes
    each, at a paper's scale). Those jobs have no record yet, so nothing kept is lost; a Ctrl-C from a
    terminal reaches the workers anyway, but one sent to the driver alone would otherwise wait."""
    for proc in list((getattr(ex, "_processes", None) or {}).values()):  # CPython's pool: {pid: Process}
        proc.terminate()
    ex.shutdown(wait=False, cancel_futures=True)


def pending(root, jobs: Iterable[dict]) -> list[dict]:
    """The jobs that have no usable record under ``root`` yet (an unreadable one is set aside to
    ``<name>.corrupt`` and its job counted as not done, see :func:`~.records.set_aside`)."""
    return [job for job in jobs if not has_record(root, job)]


def run_sweep(
    root,
    jobs: Iterable[dict],
    fn: Callable[[dict], dict],
    executor: Executor | None = None,
    progress: bool = True,
    desc: str = "sweep",
    max_in_flight: int | None = None,
) -> int:
    """Run every job of ``jobs`` that has no record under ``root``; returns how many ran.

    At most ``max_in_flight`` jobs are submitted at a time (default: one for the inline executor, so
    each record is written before the next job starts; all of them otherwise). A job that raises is
    logged and left without a record (a later run retries it); the first such error is re-raised once
    every other job has finished, so one bad job does not lose the rest.

    Interrupted (Ctrl-C, i.e. KeyboardInterrupt, in this process or raised by a job): the records of
    the jobs that finished are written, the jobs not started are cancelled, a warning says how many
    runs have records and that a re-run does the rest, and the interruption is re-raised.
    """
    jobs = list(jobs)
    todo_jobs = pending(root, jobs)
    todo, n_todo = iter(todo_jobs), len(todo_jobs)
    log.info("%s: %d jobs, %d with records already, %d to run", desc, len(jobs), len(jobs) - n_todo, n_todo)
    executor = executor or InlineExecutor()
    window = max_in_flight or (1 if isinstance(executor, InlineExecutor) else max(1, n_todo))
    in_flight: dict[Future, dict] = {}
    first_error: BaseException | None = None
    n_written = 0

    def fill() -> None:
        while len(in_flight) < window:
            job = next(todo, None)
            if job is None:
                return
            in_flight[executor.submit(fn, job)] = job

    with tqdm(total=n_todo, desc=desc, disable=not progress or n_todo == 0) as bar:
        try:
            fill()
            while in_flight:
                # with a timeout: a Ctrl-C that the OS hands to one of the pool's threads only reaches
                # this one when it next wakes, and a job can take minutes
                done, _ = wait(in_flight, timeout=WAKE_S, return_when=FIRST_COMPLETED)
                for fut in done:
                    job = in_flight.pop(fut)
                    try:
                        write_record(root, job, fut.result())
                        n_written += 1
                    except Exception as err:  # noqa: BLE001
                        log.error("%s: job %s failed: %r", desc, job, err)
                        first_error = first_error or err
                    bar.update()
                fill()
        except BaseException:  # Ctrl-C: keep every finished run, start no other
            for fut, job in in_flight.items():
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    write_record(root, job, fut.result())
                    n_written += 1
                else:
                    fut.cancel()
            have = len(jobs) - n_todo + n_written
            log.warning("%s: interrupted; %d of %d runs have records in %s; run it again to do the %d left",
                        desc, have, len(jobs), root, len(jobs) - have)
            raise
    if first_error is not None:
        raise first_error
    return n_todo


def records_for(root, jobs: Iterable[dict]) -> list:
    """The run records of ``jobs`` under ``root``, in the order of ``jobs`` (a job without a record is
    left out; an unreadable one is set aside)."""
    return [r for r in (usable_record(root, job) for job in jobs) if r is not None]


def run_jobs(P, root, jobs: Iterable[dict], fn: Callable[[dict], dict], desc: str = "sweep") -> list:
    """Run a figure's ``jobs`` with the executor a chapter's parameters name (``P.executor``,
    ``P.workers``, ``P.address`` where it has one), resuming from the records under ``root``;
    return the records of ``jobs``, in their order."""
    jobs = list(jobs)
    with make_executor(getattr(P, "executor", "inline") or "inline", workers=getattr(P, "workers", None),
                       address=getattr(P, "address", None)) as ex:
        run_sweep(root, jobs, fn, executor=ex, desc=desc)
    return records_for(root, jobs)
