"""Fixtures of the integration tests: a real stack on loopback, a client.

One stack (redis-server, evald-api, two executors, nginx) is shared by most
tests; modules that need other settings (anonymous = none, a short session
TTL, a queue of one job, no executor, an API to kill) start their own through
`stack_factory`. Tests speak HTTP to nginx only,
and may look into Redis (key prefix `evald:`) to check that a refused request
changed nothing.

A stack's directory (configs and one log per component) is removed after the
run when every test passed; otherwise it is kept and its path printed. Set
EVALD_KEEP=1 to keep it always.
"""

import hashlib
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import stack as stacklib  # noqa: E402
from client import Api  # noqa: E402,F401

MiB = 1024 * 1024

# Limits of the shared stack: small enough that tests can cross them quickly.
MAIN_OVERRIDES = {
    "max_body_bytes": 4 * MiB,       # nginx allows 16 MiB: the worker must refuse
    "session_max_bytes": 6 * MiB,
    "session_max_files": 40,
    "case_timeout_s": 2,
    "output_max_bytes": 1 * MiB,
}

_kept_dirs = []



def _keep_or_remove(request, st):
    failed = request.session.testsfailed
    if failed or os.environ.get("EVALD_KEEP"):
        _kept_dirs.append(str(st.dir))
    else:
        shutil.rmtree(st.dir, ignore_errors=True)


def _start(name, **kw):
    d = tempfile.mkdtemp(prefix="evald-it-%s-" % name)
    st = stacklib.Stack(d, **kw)
    try:
        st.start()
    except stacklib.StackError as e:
        _kept_dirs.append(d)
        pytest.fail("stack %s did not start: %s" % (name, e), pytrace=False)
    return st


def zygote_failures(st):
    """The executor log lines where a slot gave up its zygote. The job still
    ran, in a one-shot sandbox, so no test of an answer notices: a zygote
    that fails on every job would pass every other test."""
    bad = []
    for i in range(st.n_executors):
        path = st.log_path("executor%d" % i)
        if path.exists():
            bad += [l for l in path.read_text(errors="replace").splitlines()
                    if "zygote sandbox:" in l]
    return bad


def api_worker_deaths(st):
    """The API log lines where the supervisor respawned a worker that died.
    nginx answers the request the worker dropped with a 502 of its own, and
    the next request reaches a fresh worker, so a crash can hide behind a
    test that accepts a 5xx."""
    path = st.log_path("api")
    if not path.exists():
        return []
    return [l for l in path.read_text(errors="replace").splitlines() if "worker" in l and " died" in l]


@pytest.fixture(scope="session")
def stack(request):
    """The shared stack: anonymous REPL on loopback, small limits. No slot
    of it may give up its zygote, and no API worker may die, while the tests
    run."""
    st = _start("main", executors=2, api_workers=8, overrides=MAIN_OVERRIDES)
    yield st
    bad = zygote_failures(st)
    st.stop()
    deaths = api_worker_deaths(st)    # read once the supervisor has logged all
    if bad:
        _kept_dirs.append(str(st.dir))
        pytest.fail("the shared stack's slots gave up their zygote %d times (the jobs ran in "
                    "one-shot sandboxes instead); last: %s" % (len(bad), bad[-1]), pytrace=False)
    if deaths:
        _kept_dirs.append(str(st.dir))
        pytest.fail("%d API workers of the shared stack died; last: %s"
                    % (len(deaths), deaths[-1]), pytrace=False)
    _keep_or_remove(request, st)


@pytest.fixture(scope="session")
def stack_factory(request):
    """start(name, **Stack kwargs) -> a started Stack, stopped by stop(st) or
    at the end of the session whatever happens."""
    started = []

    class Factory:
        def start(self, name, **kw):
            st = _start(name, **kw)
            started.append(st)
            return st

        def stop(self, st):
            if st in started:
                started.remove(st)
                st.stop()
                _keep_or_remove(request, st)

    yield Factory()
    for st in started:
        st.stop()
        _keep_or_remove(request, st)


@pytest.fixture(scope="session")
def api(stack):
    return Api(stack.url, redis=stack.redis)


@pytest.fixture(scope="session")
def make_api():
    """make_api(stack, token=None) -> an Api client of another stack."""
    return lambda st, token=None: Api(st.url, token=token, redis=st.redis)


@pytest.fixture(scope="session")
def limits():
    """The settings of the shared stack that tests cross on purpose."""
    return dict(MAIN_OVERRIDES)


@pytest.fixture
def sid():
    """A fresh session id, as the original client makes them."""
    return str(uuid.uuid4())


def session_keys(st, pattern="evald:sess:*"):
    """{key: a digest of its value} of every session key in st's Redis.

    A session is a hash, digested from its fields and values in sorted
    order. DUMP is no fingerprint of a hash (its bytes follow the hash
    table's order): compared by DUMP, test_session_byte_limit's session
    differed between its two snapshots with no write between them in 2 of
    about 26 runs; compared by sorted fields, 0 of 30. A digest, so that
    when two snapshots differ pytest names the keys."""
    keys = st.redis("KEYS", pattern) or []
    out = {}
    for k in keys:
        h = hashlib.sha256()
        if st.redis("TYPE", k) == b"hash":
            flat = st.redis("HGETALL", k) or []
            for f, v in sorted(zip(flat[0::2], flat[1::2])):
                h.update(b"%d:%s%d:%s" % (len(f), f, len(v), v))
        else:
            h.update(st.redis("DUMP", k) or b"")
        out[k] = h.hexdigest()[:16]
    return out


@pytest.fixture
def snapshot(stack):
    """A callable returning the current session keys and their values."""
    return lambda: session_keys(stack)


def pytest_terminal_summary(terminalreporter):
    for d in _kept_dirs:
        terminalreporter.write_line("evald stack kept for inspection: %s" % d)
