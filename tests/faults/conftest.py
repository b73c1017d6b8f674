"""Fixtures of the fault tests: private stacks on loopback that the tests
kill parts of (executors, API workers, redis-server). The load, the fault
injector, the accounting and the helpers are in faultload.py.

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


@pytest.fixture(scope="module")
def small_stack(request):
    """Two executors of two slots, queue of 8, lease 1.5 s, two tries."""
    st = _start("small", executors=2, api_workers=8, overrides=dict(faultload.SMALL_OVERRIDES))
    yield st
    _finish(request, st)


@pytest.fixture(scope="module")
def redis_stack(request):
    """One executor; Redis gets restarted (and slowed down) by the tests."""
    st = _start("redis", executors=1, api_workers=8,
                overrides={"anonymous": "repl,jobs,ops", "lease_ms": 1500,
                           "log_level": "debug"})
    yield st
    _finish(request, st)


def pytest_terminal_summary(terminalreporter):
    for d in _kept:
        terminalreporter.write_line("evald fault-test stack kept for inspection: %s" % d)
