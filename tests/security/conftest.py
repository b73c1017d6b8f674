"""Fixtures of the attack suite: a real stack on loopback, attacked from inside.

Every test in tests/security/ sends an attack through POST /run or
POST /evaluate_code and asserts two things:

  1. containment, on something the attack would change if it worked (a known
     secret absent from the output, an errno, a file absent on the host, a
     status), usually with a positive control in the same job so that a job
     that never ran cannot pass;
  2. the service answers normally afterwards: the autouse fixture
     `service_still_answers` checks after every test that no component of the
     stack died and that a fresh /run `echo ok` answers `ok`.

Each test module gets a stack of its own (module scope): an attack that does
break something takes down one module, not the suite. The stacks run with a
Redis password (so a test can look for it from inside the sandbox) and small
limits, so floods and fills end quickly.

Nothing here sends traffic anywhere but 127.0.0.0/8. Skipping is never an
answer: scripts/dev counts a skipped security test as a failure.
"""

import os
import secrets
import shutil
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import stack as stacklib  # noqa: E402
import client  # noqa: E402

MiB = 1024 * 1024

CANARY_NAME = stacklib.CANARY_NAME
CANARY_VALUE = stacklib.CANARY_VALUE

# Limits of the attacked stacks: small, so that bombs, floods and fills end
# fast. The per-session limits also bound what save-back may bring home.
OVERRIDES = {
    "session_max_bytes": 8 * MiB,
    "session_max_files": 200,
    "output_max_bytes": 256 * 1024,
    "case_timeout_s": 2,
    "run_timeout_default_s": 10,
    "run_timeout_max_s": 60,
    "sandbox_memory_mb": 256,
    "sandbox_procs": 64,
    "sandbox_tmpfs_mb": 32,
    "sandbox_fsize_mb": 16,
    "executor_slots": 2,
}

# Names of host processes a sandbox must never see.
HOST_PROCESS_NAMES = ("redis-server", "nginx", "evald-api", "evald-executor", "pytest",
                      "stack.py")

_kept = []


class SecStack(stacklib.Stack):
    """A stack whose Redis requires a password (written to evald.conf, which
    the executors read): the sandbox must never be able to learn it."""

    def __init__(self, dir, redis_password, **kw):
        self.redis_password = redis_password
        overrides = dict(kw.pop("overrides", {}) or {})
        overrides["redis_password"] = redis_password
        super().__init__(dir, overrides=overrides, **kw)

    def _write_configs(self):
        super()._write_configs()
        with open(self.dir / "redis.conf", "a") as f:
            f.write("requirepass %s\n" % self.redis_password)
        # World-readable on purpose (as stack.py leaves it): only the
        # sandbox's view of the file system may keep it from the job.
        os.chmod(self.conf_path, 0o644)

    def redis(self, *args):
        if self._redis is None:
            r = stacklib.Redis(self.redis_port)
            r("AUTH", self.redis_password)
            self._redis = r
        return self._redis(*args)


class Api(client.Api):
    """The suite's client, plus what the attacks need."""

    def __init__(self, st):
        super().__init__(st.url)
        self.st = st

    def new_session(self, files=None):
        """A fresh session holding files ({path: content}; a seed file when
        none are given)."""
        sid = str(uuid.uuid4())
        for path, content in (files or {"seed.txt": "seed\n"}).items():
            self.write(sid, path, content)
        return sid

    def run(self, sid, cmd, timeout=None, stdin=None, http_timeout=120):
        """POST /run; asserts an HTTP 200 and returns the body."""
        body = {"id": sid, "cmd": cmd}
        if timeout is not None:
            body["timeout"] = timeout
        if stdin is not None:
            body["stdin"] = stdin
        return self.ok(self.post("/run", body, timeout=http_timeout))

    def run_py(self, sid, code, timeout=None, name="attack.py", args="", stdin=None):
        """Writes code (dedented) into the session as name and runs it with
        python3 inside the sandbox."""
        self.write(sid, name, textwrap.dedent(code).lstrip("\n"))
        return self.run(sid, ("python3 %s %s" % (name, args)).rstrip(), timeout=timeout,
                        stdin=stdin)

    def evaluate(self, code, entry_point, io_cases, sid=None, **extra):
        body = {"id": sid or str(uuid.uuid4()), "code": textwrap.dedent(code).lstrip("\n"),
                "entry_point": entry_point, "io_cases": io_cases}
        body.update(extra)
        return self.ok(self.post("/evaluate_code", body))

    def echo_ok(self):
        """The body of a normal job (`echo ok`) in a fresh session."""
        return self.run(self.new_session(), "echo ok", timeout=20)


def _start(name):
    d = tempfile.mkdtemp(prefix="evald-sec-%s-" % name)
    st = SecStack(d, redis_password="redispw-" + secrets.token_hex(12), executors=2,
                  api_workers=8, overrides=OVERRIDES)
    try:
        st.start()
    except stacklib.StackError as e:
        _kept.append(d)
        pytest.fail("stack %s did not start: %s" % (name, e), pytrace=False)
    return st


@pytest.fixture(scope="module")
def stack(request):
    """A stack of the module's own, stopped when the module ends."""
    failed_before = request.session.testsfailed
    st = _start(request.module.__name__.rsplit(".", 1)[-1])
    yield st
    st.stop()
    # kept (configs and logs) when a test of this module failed
    if request.session.testsfailed > failed_before or os.environ.get("EVALD_KEEP"):
        _kept.append(str(st.dir))
    else:
        shutil.rmtree(st.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def api(stack):
    return Api(stack)


@pytest.fixture
def sid(api):
    """A fresh session (it holds seed.txt)."""
    return api.new_session()


@pytest.fixture(autouse=True)
def service_still_answers(request, stack, api):
    """After every attack: every component still runs and a fresh job
    answers normally."""
    yield
    dead = stack.alive()
    assert dead == [], "components died during %s: %s" % (request.node.name, dead)
    body = api.echo_ok()
    assert body["status"] == "ok" and body["stdout"] == "ok\n", (
        "after %s, /run `echo ok` answered %r" % (request.node.name, body))


# ------------------------------------------------------------- host helpers

def host_cmdlines():
    """{pid: cmdline text} of every process on the host."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                out[int(name)] = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
    return out


def host_pids_with(marker):
    """Pids of host processes whose command line contains marker."""
    return sorted(p for p, c in host_cmdlines().items() if marker in c and p != os.getpid())


def run_together(api, jobs, stagger=1.0):
    """Runs jobs [(sid, cmd, timeout)] concurrently, each started `stagger`
    seconds after the previous one; returns their bodies in order."""
    out = [None] * len(jobs)
    errors = []

    def go(i, sid, cmd, timeout):
        try:
            time.sleep(i * stagger)
            out[i] = api.run(sid, cmd, timeout=timeout)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=go, args=(i,) + tuple(j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not errors, errors
    assert all(b is not None for b in out), out
    return out


class Helpers:
    """What the test modules use besides the client (they cannot import
    this conftest: pytest runs with --import-mode=importlib)."""

    MiB = MiB
    OVERRIDES = OVERRIDES
    CANARY_NAME = CANARY_NAME
    CANARY_VALUE = CANARY_VALUE
    HOST_PROCESS_NAMES = HOST_PROCESS_NAMES
    host_cmdlines = staticmethod(host_cmdlines)
    host_pids_with = staticmethod(host_pids_with)
    run_together = staticmethod(run_together)


@pytest.fixture(scope="session")
def sec():
    return Helpers


def pytest_terminal_summary(terminalreporter):
    for d in _kept:
        terminalreporter.write_line("evald security stack kept for inspection: %s" % d)
