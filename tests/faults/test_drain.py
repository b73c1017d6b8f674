"""Graceful drain: SIGTERM to an executor finishes the job in hand and takes
no new one; SIGTERM to evald-api finishes the request in flight; neither
loses a job."""

import os
import signal
import time
import uuid

import requests

import faultload
from faultload import batch_of_evals, collect_all, in_thread, new_session, read_from


def test_sigterm_executor_finishes_its_job_and_takes_no_new_one(small_stack):
    st = small_stack
    faultload.ensure_executors(st)
    sid = new_session(st)
    tok = "r-" + uuid.uuid4().hex
    join = in_thread(lambda: requests.post(
        st.url + "/run", json={"id": sid, "cmd": "sleep 2; echo %s done" % tok, "timeout": 10},
        timeout=60))
    i, eid, job = faultload.find_holder(st, tok)
    p = st.executors[i]
    log = st.log_path("executor%d" % i)
    log_size = os.path.getsize(log)
    # To the main process only, as systemd's KillMode=mixed does: it tells
    # its slots; the job's own processes must not be signalled.
    os.kill(p.pid, signal.SIGTERM)
    t_term = time.monotonic()
    # Once the main process has told its slots to stop (it logs "draining"
    # first, then signals them) and they have had a moment to get the
    # signal, work queued must go to the other executor only.
    deadline = time.monotonic() + 10
    while b"draining" not in read_from(log, log_size).encode() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    later = batch_of_evals(st, 6)
    r, took = join()
    assert r.status_code == 200, r.text
    assert r.json()["stdout"] == "%s done\n" % tok and r.json()["status"] == "ok", r.text
    deadline = time.monotonic() + 20
    while p.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not p.alive(), "executor %d still runs 20 s after SIGTERM" % i
    exited_after = time.monotonic() - t_term
    assert p.popen.returncode == 0, p.popen.returncode
    st.executors[i] = None
    st.procs.pop(p.name, None)
    # It left the live set and its registration.
    assert st.redis("ZSCORE", "evald:alive", eid) is None
    assert st.redis("EXISTS", "evald:exec:" + eid) == 0
    got = collect_all(st, later)
    for jid, tk in later.items():
        assert got[jid]["status"] == "done", got[jid]
        assert faultload.check_eval_body(tk, got[jid]["result"]) == ""
    tail = read_from(log, log_size)
    taken = [jid for jid in later if jid in tail]
    assert not taken, ("executor %d took %d new job(s) after its SIGTERM (it was draining): "
                       "%r\n%s" % (i, len(taken), taken, tail[-3000:]))
    assert job["id"] in tail       # it did finish the job in hand
    assert int(st.redis("GET", "evald:tries:" + job["id"]) or 0) == 1
    print("\nexecutor drained: the job in hand answered after %.2f s, the executor exited "
          "%.2f s after SIGTERM" % (took, exited_after))
    faultload.ensure_executors(st)


def test_sigterm_api_finishes_the_request_in_flight(small_stack):
    st = small_stack
    faultload.ensure_executors(st)
    sid = new_session(st)
    tok = "r-" + uuid.uuid4().hex
    queued = batch_of_evals(st, 4)
    join = in_thread(lambda: requests.post(
        st.url + "/run", json={"id": sid, "cmd": "sleep 2; echo %s done" % tok, "timeout": 10},
        timeout=60))
    faultload.find_holder(st, tok)       # the request is in flight
    t0 = time.monotonic()
    try:
        st.stop_api(signal.SIGTERM)      # returns when evald-api has exited
        stopped_after = time.monotonic() - t0
        r, took = join()
        assert r.status_code == 200, r.text
        assert r.json()["stdout"] == "%s done\n" % tok, r.text
        # With evald-api gone nginx answers 502 {detail, code}.
        r = requests.get(st.url + "/healthz", timeout=10)
        assert r.status_code == 502 and r.json().get("code") and r.json().get("detail"), r.text
    finally:
        if "api" not in st.procs:
            st.start_api()
    deadline = time.monotonic() + 15
    while True:
        r = requests.post(st.url + "/run", json={"id": sid, "cmd": "echo back"}, timeout=30)
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert r.status_code == 200 and r.json()["stdout"] == "back\n", r.text
    got = collect_all(st, queued)
    for jid, tk in queued.items():
        assert got[jid]["status"] == "done", got[jid]
        assert faultload.check_eval_body(tk, got[jid]["result"]) == ""
    print("\nevald-api stopped %.2f s after SIGTERM; the /run in flight answered 200 after "
          "%.2f s" % (stopped_after, took))
