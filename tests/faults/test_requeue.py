"""Jobs whose executor dies: a synchronous caller still gets its answer
within its timeout (the reaper re-queues the job after lease_ms), a job whose
executor is killed every time it runs ends as internal_error after
job_max_tries; and the jobs of an executor that was reaped while it still
worked are not orphaned when it then dies."""

import os
import signal
import time
import uuid

import requests

import faultload
from faultload import SMALL_OVERRIDES, in_thread, new_session

LEASE_S = SMALL_OVERRIDES["lease_ms"] / 1000.0
MARGIN_S = SMALL_OVERRIDES["job_wait_margin_s"]
MAX_TRIES = SMALL_OVERRIDES["job_max_tries"]


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
            # The pop after the last try also holds the job, for the
            # milliseconds it takes to give it up: kill only a holder that
            # still has it a moment later, on a try that may run.
            time.sleep(0.3)
            i, eid, job = faultload.find_holder(st, tok, timeout=0.1)
        except AssertionError:
            continue            # being reaped, or already answered
        assert job["id"] == job_id
        if tries(st, job_id) > MAX_TRIES:
            continue
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


def test_jobs_of_an_executor_reaped_while_alive_are_not_orphaned(small_stack):
    """An executor whose lease lapses while its slots still work (its main
    process stalled, or Redis was unreachable for longer than lease_ms) is
    reaped: its processing lists are emptied back onto the queue. Its slots
    go on popping jobs into those lists. If it dies before it renews its
    lease, those jobs must still be put back on the queue."""
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
        # Wait until A's lease has lapsed (the reaper then empties its
        # lists on every pass; it may or may not keep A listed as expired).
        deadline = time.monotonic() + 10
        while True:
            score = st.redis("ZSCORE", "evald:alive", eid)
            now_ms = int(st.redis("TIME")[0]) * 1000
            if score is None or float(score) < now_ms - 1000:
                break
            assert time.monotonic() < deadline, "executor A's lease did not lapse"
            time.sleep(0.05)
        # A's slots still pop. Queue work until a job lands in one of A's
        # processing lists.
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
    faultload.ensure_executors(st)
    stuck = []
    for jid, tok in ids:
        b = requests.get("%s/jobs/%s" % (st.url, jid), params={"wait": 15}, timeout=60).json()
        if b["status"] == "done":
            assert b["result"]["stdout"] == tok + "\n"
        elif not (b["status"] == "error" and b["error"]["code"] == "internal_error" and
                  "tried %d times" % MAX_TRIES in b["error"]["detail"]):
            # Answered is what counts here. While A is stalled, every reaper
            # pass puts A's jobs back on the queue and A's slots may pop one
            # again, each pop a try: with this stack's two tries such a job
            # can end dead-lettered instead of done (seen once in a run of
            # the whole suite). Left in a list, it would still be queued or
            # running here.
            stuck.append((jid, b["status"], st.redis("LRANGE", "evald:proc:%s:0" % eid, 0, -1),
                          st.redis("LRANGE", "evald:proc:%s:1" % eid, 0, -1)))
    assert not stuck, (
        "jobs left for ever in the processing lists of executor %s, which was reaped "
        "while its slots still popped jobs and then died (it is no longer in evald:alive, "
        "so no reaper looks at its lists): %r" % (eid, stuck))
