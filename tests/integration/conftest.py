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

import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import stack as stacklib  # noqa: E402

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


class Api:
    """A thin client of the HTTP API, as a user of it would write one."""

    def __init__(self, url, token=None, redis=None):
        self.url = url
        self.s = requests.Session()
        # Tests run up to 16 requests at once from threads.
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
        self.s.mount("http://", adapter)
        if token:
            self.s.headers["Authorization"] = "Bearer " + token
        self.redis = redis

    # raw requests ---------------------------------------------------------
    def get(self, path, params=None, **kw):
        kw.setdefault("timeout", 60)
        return self.s.get(self.url + path, params=params, **kw)

    def post(self, path, json=None, data=None, **kw):
        kw.setdefault("timeout", 120)
        return self.s.post(self.url + path, json=json, data=data, **kw)

    def request(self, method, path, **kw):
        kw.setdefault("timeout", 60)
        return self.s.request(method, self.url + path, **kw)

    # routes that must succeed ------------------------------------------------
    def ok(self, r):
        assert r.status_code == 200, "%s %s -> %d %s" % (
            r.request.method, r.request.url[:200], r.status_code, r.text[:500])
        assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
        return r.json()

    def write(self, sid, rel_path, content, encoding=None):
        body = {"id": sid, "rel_path": rel_path, "content": content}
        if encoding:
            body["encoding"] = encoding
        return self.ok(self.post("/write_file", body))

    def read(self, sid, rel_path, encoding=None):
        params = {"id": sid, "rel_path": rel_path}
        if encoding:
            params["encoding"] = encoding
        return self.get("/read_file", params)

    def content(self, sid, rel_path, encoding=None):
        return self.ok(self.read(sid, rel_path, encoding))["content"]

    def run(self, sid, cmd, **extra):
        return self.ok(self.post("/run", dict({"id": sid, "cmd": cmd}, **extra)))

    def evaluate(self, code, entry_point, io_cases, sid=None, **extra):
        body = {"id": sid or str(uuid.uuid4()), "code": code,
                "entry_point": entry_point, "io_cases": io_cases}
        body.update(extra)
        return self.ok(self.post("/evaluate_code", body))

    # errors ----------------------------------------------------------------
    @staticmethod
    def error(r, status, code=None, field=None):
        """Asserts r is an error answer: status (an int or a tuple of allowed
        ones), a JSON {detail, code} body, code (a str or tuple) and, when
        given, the name of the offending field in detail. Returns the body."""
        statuses = status if isinstance(status, tuple) else (status,)
        what = "%s %s -> %d %s" % (r.request.method, r.request.url[:160],
                                   r.status_code, r.text[:300])
        assert r.status_code in statuses, what
        assert r.headers.get("Content-Type", "").startswith("application/json"), what
        body = r.json()
        assert isinstance(body, dict), what
        assert isinstance(body.get("detail"), str) and body["detail"], what
        assert isinstance(body.get("code"), str) and body["code"], what
        if code is not None:
            codes = code if isinstance(code, tuple) else (code,)
            assert body["code"] in codes, what
        if field is not None:
            assert field in body["detail"], what
        return body

    def ping(self):
        r = self.get("/", timeout=10)
        return r.status_code == 200 and r.text.strip() == "ping"


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


@pytest.fixture(scope="session")
def stack(request):
    """The shared stack: anonymous REPL on loopback, small limits."""
    st = _start("main", executors=2, api_workers=8, overrides=MAIN_OVERRIDES)
    yield st
    st.stop()
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
    """{key: DUMP of its value} of every session key in st's Redis."""
    keys = st.redis("KEYS", pattern) or []
    return {k: st.redis("DUMP", k) for k in keys}


@pytest.fixture
def snapshot(stack):
    """A callable returning the current session keys and their values."""
    return lambda: session_keys(stack)


def pytest_terminal_summary(terminalreporter):
    for d in _kept_dirs:
        terminalreporter.write_line("evald stack kept for inspection: %s" % d)
