"""Chunks of draws on the calling process, a local process pool, or a Dask cluster.

The work is cut into tasks fixed by draw index (:func:`tasks`), never by worker count. A worker
builds its :class:`~allocator.pounds.draw.DrawContext` once (cached per fit in the worker
process) and answers tasks:

* ``("draws", lo, hi)``: draws ``lo .. hi - 1`` carried to whole pounds and summarised in a
  :class:`~allocator.pounds.sketch.PoundsSketch`, with the draws that failed;
* ``("design", lo, hi)``: rows ``lo .. hi - 1`` of the Saltelli design, as whole pounds per cell
  (``-1`` rows for runs that failed).

Every result is merged by exact integer operations (:mod:`.sketch`) or written to its own rows,
so the outcome is identical whatever the number of workers and the order tasks finish in.

Cancellation: a :class:`KeyboardInterrupt` in the calling process (Ctrl-C, or SIGTERM through
:mod:`allocator._signals`) kills the pool's processes, or cancels the cluster's futures,
before it propagates. Pool workers ignore SIGINT themselves, so only the caller decides. A
local worker that dies (killed by hand or by the out-of-memory killer) ends the work with an
error saying so, instead of a wait for its answer that never ends.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .draw import OK, DrawContext, cell_vector
from .sketch import PoundsSketch

Task = tuple[str, int, int]


@dataclass(frozen=True)
class WorkSpec:
    """Everything a worker needs, picklable (sent once per worker).

    Attributes
    ----------
    token : str
        Identifies this fit (workers cache one context per token).
    configs : tuple
        Index, uncertainty, waves and allocation configs.
    frame : DataFrame
        The areas table without geometry.
    base_dir : str or None
    published : ndarray of int64, shape (C,)
    share : Fraction
    edges : ndarray of int64
    design : ndarray or None
        The Saltelli design's uniforms, shape (runs, inputs) (``None``: no attribution).
    elasticity : (float, float) or None
        Range the target elasticity is drawn from (the design's last column when drawn).
    inject_failure : int or None
        Test hook: this draw's whole pounds are corrupted before the exact check, so the
        check must report it.
    """

    token: str
    configs: tuple[Any, Any, Any, Any]
    frame: pd.DataFrame
    base_dir: str | None
    published: np.ndarray
    share: Fraction
    edges: np.ndarray
    design: np.ndarray | None = None
    inject_failure: int | None = None
    elasticity: tuple[float, float] | None = None


_CACHE: dict[str, DrawContext] = {}


def context(spec: WorkSpec) -> DrawContext:
    """The worker's context for ``spec`` (built on first use; one fit cached at a time)."""
    ctx = _CACHE.get(spec.token)
    if ctx is None:
        _CACHE.clear()
        ctx = DrawContext(*spec.configs, spec.frame,
                          None if spec.base_dir is None else Path(spec.base_dir), spec.elasticity)
        _CACHE[spec.token] = ctx
    return ctx


def tasks(n_draws: int, chunk: int, design_rows: int = 0) -> list[Task]:
    """Draw chunks of ``chunk`` draws, then design chunks, in a fixed order."""
    out: list[Task] = [("draws", lo, min(lo + chunk, n_draws)) for lo in range(0, n_draws, chunk)]
    out += [("design", lo, min(lo + chunk, design_rows)) for lo in range(0, design_rows, chunk)]
    return out


def work(spec: WorkSpec, task: Task) -> tuple[Task, Any]:
    """Answer one task (see the module docstring); the answer carries the worker's CPU seconds.

    Returns
    -------
    task, (result, cpu_seconds)
    """
    import time

    cpu = time.process_time()
    task, result = _answer(spec, task)
    return task, (result, time.process_time() - cpu)


def _answer(spec: WorkSpec, task: Task) -> tuple[Task, Any]:
    kind, lo, hi = task
    ctx = context(spec)
    if kind == "draws":
        outcomes = ctx.run_draws(range(lo, hi))
        if spec.inject_failure is not None and lo <= spec.inject_failure < hi:
            outcomes[spec.inject_failure - lo] = _broken(ctx, outcomes[spec.inject_failure - lo])
        sketch = PoundsSketch(spec.published, spec.share, spec.edges)
        good = [cell_vector(o.pounds) for o in outcomes if o.status == OK and o.pounds is not None]
        if good:
            sketch.add(np.stack(good))
        failed = [(lo + j, o.status, o.message) for j, o in enumerate(outcomes) if o.status != OK]
        waves = np.stack([o.waves for o in outcomes])
        return task, (sketch, failed, waves)
    if kind == "design":
        from ..montecarlo.sensitivity import WaveSensitivity
        from ..montecarlo.sobol_inputs import factor_inputs

        assert spec.design is not None
        factors = WaveSensitivity._factors(ctx.setup)
        u = spec.design[lo:hi]
        if spec.elasticity is not None:  # the last column is the target elasticity
            u, elasticity = u[:, :-1], ctx.scale_elasticity(u[:, -1])
        else:
            elasticity = None
        inputs = factor_inputs(ctx.setup, factors, u)
        outcomes = ctx.run_inputs(inputs, elasticity)
        values = np.full((hi - lo, spec.published.size), -1, dtype=np.int64)
        for j, o in enumerate(outcomes):
            if o.status == OK and o.pounds is not None:
                values[j] = cell_vector(o.pounds)
        return task, values
    raise ValueError(f"task: unknown kind {kind!r}")


def _broken(ctx: DrawContext, outcome: Any) -> Any:
    """The test hook of :attr:`WorkSpec.inject_failure`: re-check a corrupted allocation."""
    from .draw import VERIFY_FAILED, DrawOutcome

    if outcome.pounds is None:
        return outcome
    bad = outcome.pounds.copy()
    flat = bad.reshape(-1)
    k = int(np.argmax(flat))
    flat[k] += 1  # one pound too many: the stream-year's budget no longer adds up
    return DrawOutcome(VERIFY_FAILED, None, f"injected: one pound added to cell {k}; "
                       "the exact check of the budget rule caught it", outcome.waves)


def _init_pool_worker(spec: WorkSpec) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller handles Ctrl-C and ends us, also
    # with SIGTERM (the pool does), even when the run was started with it ignored (then so was
    # the fork server): a worker that ignored it was waited for, for ever
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _end_with_caller()
    global _SPEC
    _SPEC = spec
    context(spec)


_SPEC: WorkSpec | None = None


def _end_with_caller() -> None:
    """End this worker when the process that started the pool ends, however it ends (killed,
    or interrupted while this worker started, before the pool knew it). Nothing else would:
    the worker's parent is the fork server, which lives as long as a worker does."""
    import contextlib
    import multiprocessing
    import os
    import select
    import threading
    import time

    caller = multiprocessing.parent_process()
    if caller is None or caller.pid is None:  # pragma: no cover - not started by a pool
        return
    pid = caller.pid

    def watch() -> None:
        try:
            select.select([os.pidfd_open(pid)], [], [])  # readable once the caller has ended
        except (AttributeError, OSError):  # no pidfd here (or the caller has ended): poll
            with contextlib.suppress(OSError):  # gone (or its PID now another user's)
                while True:
                    os.kill(pid, 0)
                    time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="allocator-end-with-caller", daemon=True).start()


def _pool_work(task: Task) -> tuple[Task, Any]:
    assert _SPEC is not None
    return work(_SPEC, task)


def run_tasks(spec: WorkSpec, todo: list[Task], *, n_jobs: int = 1, scheduler: Any = None,
              on_result: Callable[[Task, Any], None], progress: Callable[[int], None] | None = None
              ) -> str:
    """Run every task and pass each answer to ``on_result`` (in the calling thread).

    ``on_result(task, (result, cpu_seconds))`` gets each answer of :func:`work`, in the order
    the tasks finish (merging is exact, so the order does not matter).

    Parameters
    ----------
    n_jobs : int
        Local worker processes (1: in this process). Ignored with ``scheduler``.
    scheduler : str or dask.distributed.Client, optional
        Address of a Dask scheduler (``tcp://host:8786``) or a connected client.
    progress : callable, optional
        Called with the number of draws (or design rows) each finished task covered.

    Returns
    -------
    str
        Where the work ran, in words.
    """
    done = progress or (lambda n: None)
    if scheduler is not None:
        return _run_dask(spec, todo, scheduler, on_result, done)
    if n_jobs <= 1 or len(todo) <= 1:
        for t in todo:
            on_result(*work(spec, t))
            done(t[2] - t[1])
        return "1 process"
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    from .._signals import held_back

    try:  # workers fork from a server that imported the engine once (no threads inherited)
        mp = multiprocessing.get_context("forkserver")
        mp.set_forkserver_preload([__name__])
    except ValueError:  # pragma: no cover - no forkserver on this platform
        mp = multiprocessing.get_context("spawn")
    n_jobs = min(n_jobs, len(todo))
    # not multiprocessing.Pool: it replaces a worker that was killed (the out-of-memory killer)
    # and waits for ever for the task that worker had; this pool says it broke
    pool = ProcessPoolExecutor(n_jobs, mp_context=mp, initializer=_init_pool_worker,
                               initargs=(spec,))
    try:
        with held_back():  # an interrupt while the workers start ends them once the pool has them
            futures = [pool.submit(_pool_work, t) for t in todo]
        for fut in as_completed(futures):
            t, result = fut.result()
            on_result(t, result)
            done(t[2] - t[1])
    except BrokenProcessPool as exc:
        from .._forking import ended

        raise ended("a worker process of the Monte Carlo", _exitcode(pool)) from exc
    except BaseException:
        _end_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return f"{n_jobs} local processes"


def _workers(pool: Any) -> list[Any]:
    return list((getattr(pool, "_processes", None) or {}).values())


def _end_workers(pool: Any) -> None:
    """Kill the pool's workers (interrupted: their work is not wanted; SIGKILL, since a worker
    still starting may ignore SIGTERM as the run does)."""
    for p in _workers(pool):
        if p.exitcode is None:
            p.kill()


def _exitcode(pool: Any) -> int | None:
    """How a worker that ended on its own ended (``None`` if not known); the pool ends the
    others with SIGTERM once one has gone."""
    codes = [p.exitcode for p in _workers(pool) if p.exitcode not in (None, 0)]
    codes.sort(key=lambda code: code == -signal.SIGTERM)
    return codes[0] if codes else None


#: How long to wait for a TCP answer from a scheduler address before giving up (seconds).
PROBE_TIMEOUT = 5.0
#: Dask's own connect and handshake once the address answers (it retries a refused
#: connection until this runs out, hence :func:`check_scheduler` first).
CONNECT_TIMEOUT = "20s"


def check_scheduler(address: str, timeout: float = PROBE_TIMEOUT) -> None:
    """Fail fast unless something accepts TCP connections at a Dask scheduler address.

    Dask's ``Client(address, timeout=...)`` retries a refused connection with backoff until
    its timeout runs out (``distributed.comm.core.connect``), so a wrong port or a scheduler
    that is not running took 20 s to report. This opens one plain TCP connection first: a
    refusal, an unknown host or no answer within ``timeout`` seconds is an error at once.
    Addresses of other transports (``inproc://``, ``ucx://``) are left to Dask.

    Raises
    ------
    ConfigError
        Naming the address (``--scheduler``) and what went wrong.
    """
    import socket

    from ..errors import ConfigError

    where = f"--scheduler: cannot reach the Dask scheduler at {address}"
    hint = ("start one with `dask scheduler` (it prints its address, tcp://host:8786 by "
            "default) and workers with `dask worker ADDRESS`, or leave out --scheduler to use "
            "local processes")
    try:
        from distributed.comm.addressing import parse_address, parse_host_port

        scheme, loc = parse_address(address)
        if scheme not in ("tcp", "tls"):
            return
        host, port = parse_host_port(loc)
    except ImportError:
        return  # the caller says how to install Dask
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: not an address like tcp://host:8786 ({exc})") from None
    if not 0 < int(port) < 65536:
        raise ConfigError(f"{where}: {port} is not a port number (1 to 65535); an address is "
                          "like tcp://host:8786") from None
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except ConnectionRefusedError:
        raise ConfigError(f"{where}: the connection was refused (nothing is listening on port "
                          f"{port} of {host}); {hint}") from None
    except socket.gaierror:
        raise ConfigError(f"{where}: the host name {host!r} is not known; {hint}") from None
    except TimeoutError:
        raise ConfigError(f"{where}: no answer within {timeout:g} s (a wrong host, or a "
                          f"firewall); {hint}") from None
    except OSError as exc:
        raise ConfigError(f"{where} ({exc.strerror or exc}); {hint}") from None


def _run_dask(spec: WorkSpec, todo: list[Task], scheduler: Any,
              on_result: Callable[[Task, Any], None], done: Callable[[int], None]) -> str:
    from ..errors import ConfigError

    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise ConfigError("--scheduler needs Dask distributed: install it with "
                          "`pip install \"dask[distributed]\"` (it is a dependency of allocator; "
                          "reinstall the package), or leave out --scheduler to use local "
                          "processes") from None
    own = not isinstance(scheduler, Client)
    if own:
        check_scheduler(str(scheduler))  # fail at once on a refused connection
        try:
            client = Client(str(scheduler), timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"--scheduler: cannot reach the Dask scheduler at {scheduler} "
                              f"({type(exc).__name__}: {exc}); start one with `dask scheduler` "
                              "and workers with `dask worker ADDRESS`, or leave out "
                              "--scheduler") from None
    else:
        client = scheduler
    futures: list[Any] = []
    try:
        spec_future = client.scatter(spec, broadcast=True)
        futures = [client.submit(work, spec_future, t, pure=False) for t in todo]
        for fut in as_completed(futures):
            t, result = fut.result()
            on_result(t, result)
            done(t[2] - t[1])
            fut.release()
        workers = len(client.scheduler_info().get("workers", {}))
        address = client.scheduler.address
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        if own:
            client.close()
    return f"Dask cluster at {address} ({workers} workers)"


__all__ = ["WorkSpec", "check_scheduler", "tasks", "work", "run_tasks", "context"]
