"""Nothing leaves the machine: index, search, watch open no socket but AF_UNIX (issue 12, case 3).

Each command runs through the real CLI with the real ONNX model under ``strace -f``, which logs
every ``socket``, ``connect`` and ``sendto`` of the process and all its threads, native code
included (onnxruntime 1.32's telemetry client resolved ``mobile.events.data.microsoft.com``
every 5-9 s from C++, where no Python-level guard sees it). The default run watches for 12 s;
``scripts/socket_audit.sh`` sets ``LOOKALIKE_AUDIT_S=60`` for the long run and the window.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.fakes import write_library

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("strace") is None,
                       reason="strace is not installed (apt-get install strace)"),
    pytest.mark.skipif(sys.platform != "linux", reason="strace is Linux only"),
]

REPO = Path(__file__).resolve().parents[2]
AUDIT_S = int(os.environ.get("LOOKALIKE_AUDIT_S", "12"))
NETWORK = re.compile(r"\b(socket|connect|sendto|sendmsg|bind)\((?!.*AF_UNIX)(.*AF_\w+.*)")


def network_calls(trace: str) -> list[str]:
    """The traced calls that name an address family other than AF_UNIX."""
    return [line for line in trace.splitlines()
            if NETWORK.search(line) and "AF_UNIX" not in line and "AF_LOCAL" not in line]


def traced(args: list[str], home: Path, tmp: Path, stop_after_s: int | None = None,
           env: dict[str, str] | None = None) -> tuple[str, subprocess.CompletedProcess[str]]:
    """Run ``lookalike --library home ARGS`` under strace; returns (trace, the process)."""
    log = tmp / f"strace-{args[0]}.txt"
    command = [sys.executable, "-m", "lookalike", "--library", str(home), *args]
    if stop_after_s is not None:
        command = ["timeout", "-s", "INT", str(stop_after_s), *command]
    full_env = {**os.environ, "PYTHONPATH": str(REPO / "desktop"), **(env or {})}
    done = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=socket,connect,sendto,sendmsg,bind", "-o", str(log),
         *command],
        capture_output=True, text=True, timeout=(stop_after_s or 0) + 180, env=full_env,
    )
    return log.read_text(errors="replace"), done


def test_parser_sees_a_dns_query() -> None:
    line = ('7764  connect(8, {sa_family=AF_INET, sin_port=htons(53), '
            'sin_addr=inet_addr("10.255.255.53")}, 16) = 0')
    assert network_calls(line) == [line]
    assert network_calls('12 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 8') == []
    assert network_calls('12 socket(AF_INET6, SOCK_DGRAM, IPPROTO_IP) = 8') != []


def test_index_search_watch_open_no_network_socket(tmp_path: Path) -> None:
    photos, home = tmp_path / "photos", tmp_path / "home"
    paths = write_library(photos, 4)
    found = []
    for args, stop in ((["index", str(photos)], None), (["search", str(paths[1])], None),
                       (["watch"], AUDIT_S)):
        trace, done = traced(args, home, tmp_path, stop)
        assert done.returncode in (0, 124, 130), done.stderr
        assert "Traceback" not in done.stderr
        found += network_calls(trace)
    assert found == [], "network sockets opened:\n" + "\n".join(found[:10])


@pytest.mark.gui
@pytest.mark.skipif(os.environ.get("LOOKALIKE_AUDIT_S") is None,
                    reason="the window's audit is long: scripts/socket_audit.sh runs it")
def test_window_opens_no_network_socket(tmp_path: Path) -> None:
    photos, home = tmp_path / "photos", tmp_path / "home"
    write_library(photos, 4)
    traced(["index", str(photos)], home, tmp_path)
    trace, done = traced(["gui"], home, tmp_path, AUDIT_S, {"QT_QPA_PLATFORM": "offscreen"})
    assert "Traceback" not in done.stderr
    found = network_calls(trace)
    assert found == [], "network sockets opened:\n" + "\n".join(found[:10])
