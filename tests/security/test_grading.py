"""Attacks through the autograder: a submission is graded in the same
sandbox as /run and /evaluate_code, by the grading harness and, for io tests,
the evaluation harness.

Each probe is an io test whose expected value is what the probe returns when
the attack FAILED ("blocked", "clean", "alone"): the verdict is decided in a
process that never ran the submission, so a test row passes only when the
attack was contained. Every submission must also end graded (done or error),
never stuck queued or grading.
"""

import uuid

import pytest
from client import Api
from grading import put_ok, submit_ok, wait_graded

TIME_LIMIT = 3


def put_probe(api, slug, entry="probe", time_s=TIME_LIMIT, tests=None):
    body = {"title": "probe " + slug, "max_points": 1, "hidden_feedback": "full",
            "limits": {"time_s": time_s, "memory_mb": 128},
            "tests": tests or [{"kind": "io", "name": "contained", "entry_point": entry,
                                "input": "x=0", "output": '"blocked"',
                                "visibility": "public"}]}
    put_ok(api, slug, body)


def graded(api, sid, timeout=90):
    return wait_graded(api, [sid], timeout)[sid]


@pytest.fixture(scope="module")
def admin(stack):
    return Api(stack.url, token=stack.admin_token)


def contained(doc):
    """The probe row passed: the attack failed."""
    assert doc["status"] == "done", doc
    rows = {t["name"]: t for t in doc["tests"]}
    assert rows["contained"]["status"] == "passed", rows["contained"]
    return True


def test_no_network_from_a_graded_submission(admin, stack):
    put_probe(admin, "net")
    src = """
import socket
def probe(x):
    for port in (%d, %d):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            s.close()
            return "connected to %%d" %% port
        except OSError:
            pass
    return "blocked"
""" % (stack.redis_port, stack.http_port)
    assert contained(graded(admin, submit_ok(admin, "net", src, "mallory")))


def test_redis_password_is_nowhere_a_submission_can_read(admin, stack):
    put_probe(admin, "secret", time_s=20)
    src = """
import os
NEEDLE = %r
def probe(x):
    if NEEDLE in repr(dict(os.environ)):
        return "in the environment"
    for f in ("/proc/self/environ", "/proc/self/cmdline", "/proc/1/environ"):
        try:
            with open(f, "rb") as fh:
                if NEEDLE.encode() in fh.read():
                    return "found in " + f
        except OSError:
            pass
    for top in ("/etc", "/run", "/tmp", "/work", "/home", "/root", "/var"):
        for root, dirs, files in os.walk(top):
            for f in files:
                try:
                    with open(os.path.join(root, f), "rb") as fh:
                        if NEEDLE.encode() in fh.read(1 << 20):
                            return "found in " + os.path.join(root, f)
                except OSError:
                    pass
    return "blocked"
""" % stack.redis_password
    assert contained(graded(admin, submit_ok(admin, "secret", src, "mallory")))


def test_nothing_survives_from_one_submission_to_the_next(admin):
    """Submission A leaves files in every writable place; B, graded after
    it (by the same warm grader when it lands on the same slot), finds none.
    Several rounds so both slots see an A before a B."""
    put_probe(admin, "leftover")
    marker = "evald-leftover-" + uuid.uuid4().hex
    writer = """
import os
def probe(x):
    for d in ("/work", "/tmp", "/dev/shm", "."):
        try:
            with open(os.path.join(d, %r), "w") as f:
                f.write("x")
        except OSError:
            pass
    return "blocked"
""" % marker
    reader = """
import os
def probe(x):
    for d in ("/work", "/tmp", "/dev/shm", ".", "/"):
        try:
            if %r in os.listdir(d):
                return "left over in " + d
        except OSError:
            pass
    return "blocked"
""" % marker
    for _ in range(3):
        w = [submit_ok(admin, "leftover", writer, "mallory") for _ in range(2)]
        for sid in w:
            graded(admin, sid)
        r = [submit_ok(admin, "leftover", reader, "mallory") for _ in range(2)]
        for sid in r:
            assert contained(graded(admin, sid))


def test_concurrent_submissions_cannot_see_each_other(admin):
    """Two submissions graded at once (two slots): one holds a file and a
    process for a few seconds; the other looks for them."""
    put_probe(admin, "holder", time_s=6)
    put_probe(admin, "seeker", time_s=6)
    marker = "evald-holder-" + uuid.uuid4().hex
    holder = """
import os, time
def probe(x):
    with open("/tmp/%s", "w") as f:
        f.write("x")
    with open("/work/%s", "w") as f:
        f.write("x")
    time.sleep(4)
    return "blocked"
""" % (marker, marker)
    seeker = """
import os, time
def probe(x):
    deadline = time.time() + 3
    while time.time() < deadline:
        for d in ("/tmp", "/work", "/dev/shm"):
            if %r in os.listdir(d):
                return "saw the other's file in " + d
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open("/proc/%%s/cmdline" %% pid, "rb") as f:
                        if b"sleep" in f.read():
                            return "saw a process"
                except OSError:
                    pass
        time.sleep(0.1)
    return "blocked"
""" % marker
    a = submit_ok(admin, "holder", holder, "mallory")
    b = submit_ok(admin, "seeker", seeker, "mallory")
    assert contained(graded(admin, b))
    assert contained(graded(admin, a))


def test_killing_everything_at_import_does_not_wedge_grading(admin):
    """A submission that kills every process it can reach while loading
    reaches none of the grader's: its io test still runs, so the probe
    (which returns "blocked") passes; the next submission is graded
    normally."""
    put_probe(admin, "killer")
    src = """
import os, signal
try:
    os.kill(-1, signal.SIGKILL)
except OSError:
    pass
def probe(x):
    return "blocked"
"""
    assert contained(graded(admin, submit_ok(admin, "killer", src, "mallory")))
    ok = "def probe(x):\n    return 'blocked'\n"
    assert contained(graded(admin, submit_ok(admin, "killer", ok, "mallory")))


def test_a_fork_bomb_in_a_test_is_contained(admin):
    put_probe(admin, "bomb", time_s=2)
    src = """
import os
def probe(x):
    while True:
        try:
            os.fork()
        except OSError:
            pass
"""
    doc = graded(admin, submit_ok(admin, "bomb", src, "mallory"))
    assert doc["status"] == "done" and doc["score"] == 0, doc
    ok = "def probe(x):\n    return 'blocked'\n"
    assert contained(graded(admin, submit_ok(admin, "bomb", ok, "mallory")))
