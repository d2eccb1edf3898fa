"""usable_cores follows the process's CPU affinity, not the machine's core count."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lookalike.cores import usable_cores


def test_at_least_one_core_and_no_more_than_the_machine_has() -> None:
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_a_process_pinned_to_one_core_uses_one() -> None:
    code = (
        "import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]}); "
        "from lookalike.cores import usable_cores; "
        "from lookalike.embed.session import default_threads; "
        "print(usable_cores(), default_threads())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "1"]
