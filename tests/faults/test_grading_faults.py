"""Faults while grading: executors killed and Redis restarted with
submissions queued and being graded. Every submission must end graded with
the score its file deserves, none left queued or grading, none graded twice
into a wrong state.
"""

import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "lib"))
import stack as stacklib  # noqa: E402
from client import Api  # noqa: E402
from grading import submit_ok  # noqa: E402

ROOT = HERE.parents[1]
EXAMPLE = ROOT / "examples" / "assignments" / "cp1-functions"
SUBS = ROOT / "examples" / "submissions" / "cp1-functions"
# what each sample deserves (examples/submissions/cp1-functions)
EXPECTED = {"correct.py": 10, "partial.py": 4, "plain.py": 10, "syntax_error.py": 0}


@pytest.fixture(scope="module")
def st(request):
    d = tempfile.mkdtemp(prefix="evald-faults-grading-")
    s = stacklib.Stack(d, executors=2, api_workers=8,
                       overrides={"lease_ms": 1500, "job_max_tries": 8,
                                  "executor_slots": 2, "log_level": "debug"})
    try:
        s.start()
    except stacklib.StackError as e:
        pytest.fail("stack did not start: %s" % e, pytrace=False)
    r = s.evalctl("assignment", "load", str(EXAMPLE))
    assert r.returncode == 0, r.stderr
    yield s
    s.stop()
    if request.session.testsfailed == 0:
        shutil.rmtree(d, ignore_errors=True)


def submit_batch(api, n, tag):
    """n submissions cycling through the samples: [(id, file)]."""
    files = sorted(EXPECTED)
    out = []
    for i in range(n):
        f = files[i % len(files)]
        sid = submit_ok(api, "cp1-functions", (SUBS / f).read_text(), "%s-%d" % (tag, i % 7))
        out.append((sid, f))
    return out


def wait_all(api, subs, timeout=240):
    deadline = time.monotonic() + timeout
    pending = dict(subs)
    results = {}
    while pending and time.monotonic() < deadline:
        for sid in list(pending):
            r = api.get("/results/" + sid)
            if r.status_code == 503:
                break               # Redis still coming back: ask again
            assert r.status_code == 200, r.text
            body = r.json()
            if body["status"] in ("done", "error"):
                results[sid] = body
                del pending[sid]
        time.sleep(0.3)
    stuck = {sid: api.get("/results/" + sid).json()["status"] for sid in pending}
    assert not stuck, "submissions not graded after %d s: %s" % (timeout, stuck)
    return results


def check_scores(subs, results):
    wrong = []
    for sid, f in subs:
        r = results[sid]
        if r["status"] != "done" or r["score"] != EXPECTED[f]:
            wrong.append((f, r["status"], r["score"], r.get("error")))
    assert not wrong, wrong


def test_executors_killed_while_grading(st):
    api = Api(st.url, token=st.admin_token)
    subs = submit_batch(api, 24, "kill")
    rng = random.Random(7)
    kills = 0
    deadline = time.monotonic() + 60
    while kills < 5 and time.monotonic() < deadline:
        time.sleep(0.8)
        grading = [s for s, _ in subs if api.get("/results/" + s).json()["status"] == "grading"]
        if not grading:
            continue
        i = rng.randrange(st.n_executors)
        st.kill_executor(i, signal.SIGKILL)
        st.start_executor(i)
        kills += 1
    assert kills >= 3, "too few kills landed while something was grading (%d)" % kills
    results = wait_all(api, subs)
    check_scores(subs, results)
    # the queue and every processing list are empty again
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        procs = [k for k in (st.redis("KEYS", "evald:proc:*") or [])
                 if st.redis("LLEN", k)]
        if not st.redis("LLEN", "evald:queue") and not procs:
            break
        time.sleep(0.2)
    assert not st.redis("LLEN", "evald:queue")


def test_redis_restarted_while_grading(st):
    api = Api(st.url, token=st.admin_token)
    subs = submit_batch(api, 12, "redis")
    # wait until something is being graded, then take Redis away for 2 s
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(api.get("/results/" + s).json()["status"] == "grading" for s, _ in subs):
            break
        time.sleep(0.1)
    st.stop_redis()
    time.sleep(2)
    st.start_redis()
    results = wait_all(api, subs)
    check_scores(subs, results)
