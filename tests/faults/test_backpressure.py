"""Backpressure: a full queue answers 429 with Retry-After and queues
nothing; a looping job ends by its own time limit, so the queue drains."""

import time
import uuid

import requests

import faultload
from faultload import SMALL_OVERRIDES, collect_all, new_session

DEPTH = SMALL_OVERRIDES["queue_max_depth"]
SLOTS = 2 * SMALL_OVERRIDES["executor_slots"]     # two executors


def busy_error(r):
    assert r.status_code == 429, r.text
    b = r.json()
    assert b.get("code") == "busy" and b.get("detail"), b
    assert int(r.headers["Retry-After"]) >= 1, r.headers
    return b


def test_full_queue_is_429_with_retry_after(small_stack):
    st = small_stack
    faultload.ensure_executors(st)
    sid = new_session(st)
    # Too many for the queue at once: refused whole.
    toks = ["e-" + uuid.uuid4().hex for _ in range(DEPTH + 1)]
    jobs = [dict(faultload.eval_fields(t), id="s-" + t, kind="evaluate") for t in toks]
    before = st.redis("DBSIZE")
    busy_error(requests.post(st.url + "/jobs", json={"jobs": jobs}, timeout=30))
    assert st.redis("LLEN", "evald:queue") == 0
    assert st.redis("DBSIZE") == before

    # Every slot busy, then the queue filled one job at a time.
    hold = []
    for _ in range(SLOTS):
        r = requests.post(st.url + "/jobs", json={"kind": "run", "id": sid, "timeout": 20,
                                                  "cmd": "sleep 3"}, timeout=30)
        assert r.status_code == 202, r.text
        hold.append(r.json()["job_id"])
    deadline = time.monotonic() + 15
    while st.redis("LLEN", "evald:queue") and time.monotonic() < deadline:
        time.sleep(0.05)
    accepted = {}
    refused = None
    for n in range(DEPTH + 3):
        t = "e-" + uuid.uuid4().hex
        r = requests.post(st.url + "/jobs", json=dict(faultload.eval_fields(t), id="s-" + t,
                                                      kind="evaluate"), timeout=30)
        if r.status_code == 202:
            accepted[r.json()["job_id"]] = t
            continue
        refused = r
        break
    assert refused is not None, "the queue took %d jobs; its limit is %d" % (len(accepted), DEPTH)
    busy_error(refused)
    assert len(accepted) == DEPTH, len(accepted)
    # The synchronous routes are refused the same way.
    t = "e-" + uuid.uuid4().hex
    busy_error(requests.post(st.url + "/evaluate_code",
                             json=dict(faultload.eval_fields(t), id="s-" + t), timeout=30))
    busy_error(requests.post(st.url + "/run", json={"id": sid, "cmd": "true"}, timeout=30))
    # ... and everything accepted still runs.
    got = collect_all(st, list(accepted) + hold)
    for jid, tk in accepted.items():
        assert got[jid]["status"] == "done"
        assert faultload.check_eval_body(tk, got[jid]["result"]) == ""
    for jid in hold:
        assert got[jid]["status"] == "done" and got[jid]["result"]["status"] == "ok", got[jid]
    q, procs = faultload.wait_drained(st.redis, 30)
    assert q == 0 and not procs


def test_looping_jobs_end_by_their_time_limit(small_stack):
    st = small_stack
    faultload.ensure_executors(st)
    sid = new_session(st)
    t0 = time.monotonic()
    r = requests.post(st.url + "/run", json={"id": sid, "cmd": "while :; do :; done",
                                             "timeout": 1}, timeout=60)
    took = time.monotonic() - t0
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "timeout", r.text
    assert took < 10, took

    r = requests.post(st.url + "/evaluate_code", json={
        "id": "loop-" + uuid.uuid4().hex, "code": "def f(x):\n    while True:\n        pass\n",
        "entry_point": "f", "io_cases": [{"input": "1", "output": "1"}],
        "limits": {"time_s": 1}}, timeout=60)
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["passed"] is False and b["case_results"][0]["error"].startswith("Timeout"), b

    # Asynchronously too: the looping job ends and the queue drains.
    r = requests.post(st.url + "/jobs", json={"kind": "run", "id": sid, "timeout": 1,
                                              "cmd": "while :; do :; done"}, timeout=30)
    assert r.status_code == 202, r.text
    jid = r.json()["job_id"]
    b = requests.get("%s/jobs/%s" % (st.url, jid), params={"wait": 30}, timeout=60).json()
    assert b["status"] == "done" and b["result"]["status"] == "timeout", b
    q, procs = faultload.wait_drained(st.redis, 30)
    assert q == 0 and not procs
