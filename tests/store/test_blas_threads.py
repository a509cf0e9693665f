"""A store sets numpy's BLAS to `StoreConfig.blas_threads` threads when it opens (store.blas),
process-wide, so each case runs in a process of its own that starts with two threads (OpenBLAS
caps them at the cores)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from threadpoolctl import threadpool_info
    import numpy
    from engram_agents.memory import EngramMemory
    from engram_agents.store.config import StoreConfig
    from engram_agents.store.encoders import HashingEncoder

    def numpy_blas():
        return [i["num_threads"] for i in threadpool_info()
                if i["user_api"] == "blas" and "numpy" in i["filepath"]]

    before = numpy_blas()
    config = StoreConfig(**json.loads(sys.argv[2]))
    with EngramMemory(sys.argv[1], encoder=HashingEncoder(), config=config) as memory:
        memory.remember("the boiler is serviced every March", "u")
        print(json.dumps({"before": before, "open": numpy_blas()}))
    """
)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [({}, 1), ({"blas_threads": None}, 2)],
    ids=["default-one", "left-alone"],
)
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: BLAS runs one thread anyway")
def test_opening_a_store_sets_numpys_blas_threads(tmp_path, settings, expected):
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env["OPENBLAS_NUM_THREADS"] = "2"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "m.db"), json.dumps(settings)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] == [2]
    assert seen["open"] == [expected]


def test_zero_threads_is_refused_naming_the_setting():
    from pydantic import ValidationError

    from engram_agents.store.config import StoreConfig

    with pytest.raises(ValidationError, match="blas_threads"):
        StoreConfig(blas_threads=0)
