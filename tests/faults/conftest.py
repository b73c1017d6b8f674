"""Fixtures of the fault tests: private stacks on loopback that the tests
kill parts of (executors, API workers, redis-server), and helpers to find
which executor holds a job.

A stack's directory (configs, one log per component, Redis's AOF) is removed
after the run when every test passed; otherwise it is kept and its path
printed. EVALD_KEEP=1 keeps it always.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
sys.path.insert(0, str(HERE))
import stack as stacklib  # noqa: E402
import faultload  # noqa: E402

_kept = []


def _start(name, **kw):
    d = tempfile.mkdtemp(prefix="evald-faults-%s-" % name)
    st = stacklib.Stack(d, **kw)
    try:
        st.start()
    except stacklib.StackError as e:
        _kept.append(d)
        pytest.fail("stack %s did not start: %s" % (name, e), pytrace=False)
    return st


def _finish(request, st):
    st.stop()
    if request.session.testsfailed or os.environ.get("EVALD_KEEP"):
        _kept.append(str(st.dir))
    else:
        shutil.rmtree(st.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def chaos_stack(request):
    """Three executors of two slots, 16 API workers, lease 1.5 s."""
    st = _start("chaos", executors=3, api_workers=16,
                overrides=dict(faultload.CHAOS_OVERRIDES))
    yield st
    _finish(request, st)


# The small stack: two executors of two slots, a queue of at most 8 jobs,
# lease 1.5 s, two tries, debug logs (each job's id and verdict per
# executor), a 5 s margin for synchronous routes.
SMALL_OVERRIDES = {
    "anonymous": "repl,jobs,ops",
    "lease_ms": 1500,
    "job_max_tries": 2,
    "executor_slots": 2,
    "queue_max_depth": 8,
    "job_wait_margin_s": 5,
    "run_timeout_default_s": 10,
    "run_timeout_max_s": 60,
    "case_timeout_s": 2,
    "log_level": "debug",
}


@pytest.fixture(scope="module")
def small_stack(request):
    st = _start("small", executors=2, api_workers=8, overrides=dict(SMALL_OVERRIDES))
    yield st
    _finish(request, st)


def pytest_terminal_summary(terminalreporter):
    for d in _kept:
        terminalreporter.write_line("evald fault-test stack kept for inspection: %s" % d)
