"""Jobs whose executor dies: a synchronous caller still gets its answer
within its timeout (the reaper re-queues the job after lease_ms), a job whose
executor is killed every time it runs ends as internal_error after
job_max_tries, and a Redis restart while a client long-polls a job does not
pass for the job's result."""

import os
import signal
import threading
import time
import uuid

import requests

import faultload
from conftest import SMALL_OVERRIDES

LEASE_S = SMALL_OVERRIDES["lease_ms"] / 1000.0
MARGIN_S = SMALL_OVERRIDES["job_wait_margin_s"]
MAX_TRIES = SMALL_OVERRIDES["job_max_tries"]


def new_session(st):
    sid = "rq-" + uuid.uuid4().hex
    r = requests.post(st.url + "/write_file",
                      json={"id": sid, "rel_path": "seed.txt", "content": "seed"}, timeout=30)
    assert r.status_code == 200, r.text
    return sid


def in_thread(fn):
    """Runs fn in a thread; returns a function that joins it and gives
    (result, seconds taken) or re-raises its exception."""
    out = {}

    def run():
        t0 = time.monotonic()
        try:
            out["r"] = fn()
        except BaseException as e:      # handed to the test below
            out["e"] = e
        out["t"] = time.monotonic() - t0

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def join(timeout=120):
        t.join(timeout)
        assert not t.is_alive(), "the request did not end within %d s" % timeout
        if "e" in out:
            raise out["e"]
        return out["r"], out["t"]
    return join


def kill_holder(st, needle):
    """SIGKILLs the executor whose slot holds the job containing needle and
    starts it again. Returns the job."""
    i, eid, job = faultload.find_holder(st, needle)
    st.kill_executor(i, signal.SIGKILL)
    st.start_executor(i)
    return job


def tries(st, job_id):
    return int(st.redis("GET", "evald:tries:" + job_id) or 0)


def test_sync_run_gets_answer_after_its_executor_dies(small_stack):
    st = small_stack
    faultload.ensure_executors(st)
    sid = new_session(st)
    tok = "r-" + uuid.uuid4().hex
    timeout = 5
    join = in_thread(lambda: requests.post(
        st.url + "/run", json={"id": sid, "cmd": "sleep 1; echo %s" % tok, "timeout": timeout},
        timeout=120))
    job = kill_holder(st, tok)
    r, took = join()
    assert r.status_code == 200, r.text
    assert r.json()["stdout"] == tok + "\n" and r.json()["status"] == "ok", r.text
    # Within its own limit plus the margin, as /run promises.
    assert took < timeout + MARGIN_S + 1, took
    assert tries(st, job["id"]) == 2
    print("\n/run answered %.2f s after it was sent; its executor was killed once "
          "(lease %.1f s)" % (took, LEASE_S))


def test_sync_evaluate_gets_answer_after_its_executor_dies(small_stack):
    st = small_stack
    faultload.ensure_executors(st)
    tok = "e-" + uuid.uuid4().hex
    body = dict(faultload.eval_fields(tok), id="s-" + tok)
    body["code"] = body["code"].replace("time.sleep(", "time.sleep(1 + ")
    join = in_thread(lambda: requests.post(st.url + "/evaluate_code", json=body, timeout=120))
    job = kill_holder(st, tok)
    r, took = join()
    assert r.status_code == 200, r.text
    assert faultload.check_eval_body(tok, r.json()) == ""
    assert tries(st, job["id"]) == 2
    print("\n/evaluate_code answered %.2f s after it was sent; its executor was killed once"
          % took)


def test_job_killed_every_time_ends_as_internal_error(small_stack):
    st = small_stack
    faultload.ensure_executors(st)
    sid = new_session(st)
    tok = "r-" + uuid.uuid4().hex
    stats_before = st.redis("HGET", "evald:stats", "jobs:run:internal_error")
    r = requests.post(st.url + "/jobs", json={"kind": "run", "id": sid, "timeout": 50,
                                              "cmd": "sleep 40; echo %s" % tok}, timeout=30)
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    kills = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        b = requests.get("%s/jobs/%s" % (st.url, job_id), timeout=30).json()
        if b["status"] != "pending":
            break
        try:
            i, eid, job = faultload.find_holder(st, tok, timeout=1)
        except AssertionError:
            continue            # being reaped, or already answered
        assert job["id"] == job_id
        st.kill_executor(i, signal.SIGKILL)
        st.start_executor(i)
        kills += 1
    b = requests.get("%s/jobs/%s" % (st.url, job_id), params={"wait": 30}, timeout=60).json()
    assert b["status"] == "error", b
    assert b["error"]["code"] == "internal_error", b
    assert "tried %d times" % MAX_TRIES in b["error"]["detail"], b
    assert kills == MAX_TRIES, (kills, b)
    assert tries(st, job_id) == MAX_TRIES + 1
    assert st.redis("LLEN", "evald:done:" + job_id) == 1
    after = st.redis("HGET", "evald:stats", "jobs:run:internal_error")
    assert int(after or 0) == int(stats_before or 0) + 1
    q, procs = faultload.wait_drained(st.redis, 30)
    assert q == 0 and not procs, (q, procs)


def test_redis_restart_while_long_polling_is_not_a_job_error(small_stack):
    """A GET /jobs/{id}?wait= that is waiting when Redis goes away must not
    answer as if the job had failed: the job is still queued or running, and
    it does finish."""
    st = small_stack
    faultload.ensure_executors(st)
    sid = new_session(st)
    tok = "r-" + uuid.uuid4().hex
    r = requests.post(st.url + "/jobs", json={"kind": "run", "id": sid, "timeout": 20,
                                              "cmd": "sleep 3; echo %s" % tok}, timeout=30)
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    faultload.find_holder(st, tok)
    join = in_thread(lambda: requests.get("%s/jobs/%s" % (st.url, job_id),
                                          params={"wait": 20}, timeout=60))
    time.sleep(0.5)
    st.stop_redis()
    down = []
    try:
        for method, path, body in (("GET", "/healthz", None),
                                   ("GET", "/jobs/%s" % job_id, None),
                                   ("POST", "/run", {"id": sid, "cmd": "true"}),
                                   ("POST", "/jobs", {"kind": "run", "id": sid, "cmd": "true"}),
                                   ("GET", "/read_file?id=%s&rel_path=seed.txt" % sid, None)):
            t0 = time.monotonic()
            rr = requests.request(method, st.url + path, json=body, timeout=30)
            down.append((path, rr.status_code, rr.json(), time.monotonic() - t0))
        time.sleep(0.5)
    finally:
        st.start_redis()
    for path, status, b, took in down:
        assert status == 503 and b.get("code") == "unavailable" and b.get("detail"), (path, b)
        assert took < 5.0, (path, took)
    first, _ = join()
    fb = first.json()
    # Workers back off for a moment after a failed connect: retry 503s.
    deadline = time.monotonic() + 15
    while True:
        final = requests.get("%s/jobs/%s" % (st.url, job_id), params={"wait": 30}, timeout=60)
        if final.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert final.status_code == 200 and final.json()["status"] == "done", final.text
    assert final.json()["result"]["stdout"] == tok + "\n"
    # The long poll that Redis's restart interrupted: 503 (retry) or the
    # real result -- not status "error" for a job that then finished.
    assert first.status_code == 503 or fb.get("status") == "done", (
        "GET /jobs/%s?wait=20 answered %d %s while Redis restarted, but the job then "
        "finished: %s" % (job_id, first.status_code, first.text, final.text))


def test_jobs_of_an_executor_reaped_while_alive_are_not_orphaned(small_stack):
    """An executor whose lease lapses while its slots still work (its main
    process stalled, or Redis was unreachable for longer than lease_ms) is
    reaped: removed from evald:alive, its exec: hash deleted. Its slots go on
    popping jobs into their processing lists. If it dies before it renews
    its lease, those jobs must still be put back on the queue."""
    st = small_stack
    faultload.ensure_executors(st)
    sid = new_session(st)
    a = 0
    p = st.executors[a]
    eid = next(e.decode() for e in st.redis("ZRANGE", "evald:alive", 0, -1)
               if faultload.executor_index(st, e.decode()) == a)
    # Stall executor A's main process (only it: its slots keep working).
    os.kill(p.pid, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 10
        while st.redis("ZSCORE", "evald:alive", eid) is not None:
            assert time.monotonic() < deadline, "executor A was not reaped"
            time.sleep(0.05)
        # A is forgotten; its slots still pop. Queue work until a job lands
        # in one of A's processing lists.
        held = None
        ids = []
        deadline = time.monotonic() + 20
        while held is None and time.monotonic() < deadline:
            tok = "r-" + uuid.uuid4().hex
            r = requests.post(st.url + "/jobs", json={"kind": "run", "id": sid, "timeout": 20,
                                                      "cmd": "sleep 3; echo %s" % tok}, timeout=30)
            assert r.status_code == 202, r.text
            ids.append((r.json()["job_id"], tok))
            try:
                i, holder, job = faultload.find_holder(st, tok, timeout=2)
            except AssertionError:
                continue
            if holder == eid:
                held = job
        assert held is not None, "no job reached executor A's slots"
        # A dies before it could renew its lease.
        st.kill_executor(a, signal.SIGKILL)
    finally:
        try:
            os.kill(p.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    st.start_executor(a)
    faultload.ensure_executors(st)
    stuck = []
    for jid, tok in ids:
        b = requests.get("%s/jobs/%s" % (st.url, jid), params={"wait": 15}, timeout=60).json()
        if b["status"] != "done":
            stuck.append((jid, b["status"], st.redis("LRANGE", "evald:proc:%s:0" % eid, 0, -1),
                          st.redis("LRANGE", "evald:proc:%s:1" % eid, 0, -1)))
        else:
            assert b["result"]["stdout"] == tok + "\n"
    assert not stuck, (
        "jobs left for ever in the processing lists of executor %s, which was reaped "
        "while its slots still popped jobs and then died (it is no longer in evald:alive, "
        "so no reaper looks at its lists): %r" % (eid, stuck))
