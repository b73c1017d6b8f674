"""The job statuses of /run and /evaluate_code: 504 when no executor answers
in time, 429 when the queue is full, 503 when no executor is alive or Redis
is down; and the service recovers from each."""

import signal
import time
import uuid

import pytest

EVAL = {"code": "def f(x):\n    return x", "entry_point": "f",
        "io_cases": [{"input": "1", "output": "1"}]}


@pytest.fixture(scope="module")
def paused(stack_factory, make_api):
    # One executor with one slot whose lease outlives the test, a queue of
    # one job, and a one-second margin past a job's own limit.
    st = stack_factory.start("queue", executors=1, api_workers=4,
                             overrides={"queue_max_depth": 1, "job_wait_margin_s": 1,
                                        "lease_ms": 60000, "executor_slots": 1})
    yield st, make_api(st)
    stack_factory.stop(st)


@pytest.fixture(scope="module")
def idle(stack_factory, make_api):
    st = stack_factory.start("noexec", executors=0, api_workers=2)
    yield st, make_api(st)
    stack_factory.stop(st)


def test_timeout_then_busy_then_recovery(paused):
    st, api = paused
    sid = str(uuid.uuid4())
    api.write(sid, "x.txt", "x")
    assert api.run(sid, "echo ready")["stdout"] == "ready\n"
    st.signal_executor(0, signal.SIGSTOP)
    try:
        r = api.post("/run", {"id": sid, "cmd": "echo never", "timeout": 1}, timeout=60)
        api.error(r, 504, "timeout")
        # The stopped executor's slot may already have taken a job (a
        # blocking pop completes inside Redis); the jobs after it wait in
        # the queue, which holds one.
        for _ in range(3):
            r = api.post("/run", {"id": sid, "cmd": "echo more", "timeout": 1}, timeout=60)
            if r.status_code != 504:
                break
        api.error(r, 429, "busy")
        assert int(r.headers["Retry-After"]) >= 1
        r = api.post("/evaluate_code", dict(EVAL, id=sid))
        api.error(r, 429, "busy")
    finally:
        st.signal_executor(0, signal.SIGCONT)
    deadline = time.monotonic() + 60
    while True:
        r = api.post("/run", {"id": sid, "cmd": "echo back"})
        if r.status_code == 200:
            break
        assert r.status_code == 429 and time.monotonic() < deadline, r.text
        time.sleep(0.2)
    assert r.json()["stdout"] == "back\n"
    assert api.evaluate(EVAL["code"], "f", EVAL["io_cases"])["passed"] is True


def test_no_executor_is_503(idle):
    st, api = idle
    sid = str(uuid.uuid4())
    api.write(sid, "x.txt", "x")
    api.error(api.post("/run", {"id": sid, "cmd": "true"}), 503, "unavailable")
    api.error(api.post("/evaluate_code", dict(EVAL, id=sid)), 503, "unavailable")
    assert api.content(sid, "x.txt") == "x"
    assert st.redis("LLEN", "evald:queue") == 0


def test_redis_down_is_503_and_recovers(idle):
    st, api = idle
    sid = str(uuid.uuid4())
    api.write(sid, "x.txt", "persisted")
    st.stop_redis()
    try:
        api.error(api.post("/write_file", {"id": sid, "rel_path": "y.txt", "content": "y"}),
                  503, "unavailable")
        api.error(api.read(sid, "x.txt"), 503, "unavailable")
        api.error(api.post("/fork_session", {"id": sid}), 503, "unavailable")
    finally:
        st.start_redis()
    # The AOF kept the session; workers reconnect.
    deadline = time.monotonic() + 10
    while api.read(sid, "x.txt").status_code != 200:
        assert time.monotonic() < deadline, "the API did not reconnect to Redis"
        time.sleep(0.2)
    assert api.content(sid, "x.txt") == "persisted"
    api.error(api.read(sid, "y.txt"), 404, "not_found")
