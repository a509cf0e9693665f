"""numpy's BLAS threads while a store is open. Recall multiplies small matrices (the query
against a few thousand candidates, the fused top 40 against each other), where OpenBLAS's
threads cost far more than they save: on the 2-core VM a 40 × 40 Gram product took 325 µs of
CPU threaded against 28 µs on one thread, and the waiting threads spin on the core that a
server's next request needs (benchmarks/RESULTS.md). So a store sets BLAS to
`StoreConfig.blas_threads` threads when it opens: process-wide (threadpoolctl), like
`OMP_NUM_THREADS`; `None` leaves the process's setting alone. Torch and ONNX Runtime keep their
own thread pools."""

from __future__ import annotations

import threading

from threadpoolctl import threadpool_limits

_lock = threading.Lock()
_set: int | None = None  # what this process was last set to here (a store opens often)


def limit_threads(threads: int | None) -> None:
    global _set
    with _lock:
        if threads is None or threads == _set:
            return
        threadpool_limits(limits=threads, user_api="blas")
        _set = threads
