"""Redis restarts: requests made while Redis is down or still loading its
append-only file get 503 {detail, code} quickly; a client long-polling a job
is not told the job failed; the job finishes and the service recovers by
itself."""

import threading
import time
import uuid

import requests

import faultload
import stack as stacklib
from faultload import in_thread, new_session, retry_503


def test_redis_restart_while_long_polling_is_not_a_job_error(redis_stack):
    """A GET /jobs/{id}?wait= that is waiting when Redis goes away must not
    answer as if the job had failed: the job is still queued or running, and
    it does finish."""
    st = redis_stack
    faultload.ensure_executors(st)
    sid = new_session(st, after_restart=True)
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
    final = retry_503(lambda: requests.get("%s/jobs/%s" % (st.url, job_id),
                                           params={"wait": 30}, timeout=60))
    assert final.status_code == 200 and final.json()["status"] == "done", final.text
    assert final.json()["result"]["stdout"] == tok + "\n"
    # The long poll that Redis's restart interrupted: 503 (retry) or the
    # real result -- not status "error" for a job that then finished.
    assert first.status_code == 503 or fb.get("status") == "done", (
        "GET /jobs/%s?wait=20 answered %d %s while Redis restarted, but the job then "
        "finished: %s" % (job_id, first.status_code, first.text, final.text))


def test_requests_while_redis_loads_its_data_are_503(redis_stack):
    """After a restart, redis-server answers -LOADING until it has read its
    append-only file. For evald that is Redis being down: 503 unavailable
    (retry), not 500 internal_error, and not a failed job."""
    st = redis_stack
    faultload.ensure_executors(st)
    sid = new_session(st, after_restart=True)
    tok = "r-" + uuid.uuid4().hex
    r = requests.post(st.url + "/jobs", json={"kind": "run", "id": sid, "timeout": 30,
                                              "cmd": "sleep 2; echo %s" % tok}, timeout=30)
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    # Enough keys, loaded 1 ms each, to keep Redis loading for about 3 s;
    # all of them in the AOF's base file, where the delay applies.
    st.redis("EVAL", "for i = 1, tonumber(ARGV[1]) do redis.call('SET', 'pad:' .. i, 'x') end",
             0, 3000)
    st.redis("BGREWRITEAOF")
    deadline = time.monotonic() + 30
    while b"aof_rewrite_in_progress:0" not in st.redis("INFO", "persistence") or \
            b"aof_rewrite_scheduled:0" not in st.redis("INFO", "persistence"):
        assert time.monotonic() < deadline, "BGREWRITEAOF did not end"
        time.sleep(0.05)
    conf = st.dir / "redis.conf"
    original = conf.read_text()
    conf.write_text(original + "key-load-delay 1000\nloading-process-events-interval-bytes 1024\n")
    try:
        st.stop_redis()
        starting = threading.Thread(target=st.start_redis, daemon=True)
        starting.start()
        raw = stacklib.Redis(st.redis_port, timeout=2)
        seen_loading = 0
        answers = []
        while starting.is_alive():
            loading = False
            try:
                raw("PING")
            except stacklib.RedisError as e:
                loading = "LOADING" in str(e)
                seen_loading += loading
            except (OSError, EOFError):
                raw.close()
            if not loading:
                # down, or ready again: only answers given while Redis says
                # LOADING are judged here
                time.sleep(0.05)
                continue
            for method, path, body in (
                    ("POST", "/jobs", {"kind": "run", "id": sid, "cmd": "true"}),
                    ("POST", "/evaluate_code", dict(faultload.eval_fields("e-" + "1" * 32),
                                                    id="loading")),
                    ("GET", "/jobs/%s?wait=1" % job_id, None),
                    ("GET", "/healthz", None)):
                t0 = time.monotonic()
                rr = requests.request(method, st.url + path, json=body, timeout=30)
                answer = (method + " " + path.split("?")[0], rr.status_code, rr.text[:300],
                          time.monotonic() - t0)
                # judged only when Redis was still loading after it too
                try:
                    raw("PING")
                    still_loading = False
                except stacklib.RedisError as e:
                    still_loading = "LOADING" in str(e)
                except (OSError, EOFError):
                    raw.close()
                    still_loading = False
                if not still_loading:
                    break
                answers.append(answer)
            time.sleep(0.05)
        starting.join(30)
        raw.close()
    finally:
        conf.write_text(original)
    assert seen_loading, "Redis never answered LOADING: the test did not test anything"
    bad = [a for a in answers
           if not (a[1] == 503 and '"code":"unavailable"' in a[2].replace(" ", ""))
           and not (a[0].startswith("GET /jobs/") and a[1] == 200 and '"pending"' in a[2])]
    slow = [a for a in answers if a[3] >= 5.0]
    final = retry_503(lambda: requests.get("%s/jobs/%s" % (st.url, job_id),
                                           params={"wait": 30}, timeout=60))
    assert final.status_code == 200 and final.json()["status"] == "done", final.text
    assert final.json()["result"]["stdout"] == tok + "\n"
    assert not slow, slow
    assert not bad, ("while redis-server was loading its data (it answered LOADING %d "
                     "times), evald answered:\n  %s" % (
                         seen_loading, "\n  ".join("%s -> %d %s" % a[:3] for a in bad[:12])))


def test_result_that_could_not_be_published_is_not_stranded(redis_stack):
    """Redis stays down longer than an executor retries publishing a result
    (about 10 s). The job stays in that executor's processing list; it must
    still be answered once Redis is back (run again or published), not sit
    there for as long as the executor lives."""
    st = redis_stack
    faultload.ensure_executors(st)
    sid = new_session(st, after_restart=True)
    tok = "r-" + uuid.uuid4().hex
    r = requests.post(st.url + "/jobs", json={"kind": "run", "id": sid, "timeout": 20,
                                              "cmd": "sleep 1; echo %s" % tok}, timeout=30)
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    i, eid, job = faultload.find_holder(st, tok)
    st.stop_redis()
    try:
        time.sleep(12)
    finally:
        st.start_redis()
    faultload.ensure_executors(st)
    final = retry_503(lambda: requests.get("%s/jobs/%s" % (st.url, job_id),
                                           params={"wait": 20}, timeout=60))
    assert final.status_code == 200, final.text
    procs = {k.decode(): st.redis("LRANGE", k, 0, -1)
             for k in faultload.scan(st.redis, "evald:proc:*")}
    assert final.json()["status"] == "done", (
        "job %s is still %r 20 s after Redis came back; its executor %s (alive: %s) "
        "still holds it: %r" % (job_id, final.json()["status"], eid,
                                st.redis("ZSCORE", "evald:alive", eid) is not None,
                                {k: v for k, v in procs.items() if v}))
    assert final.json()["result"]["stdout"] == tok + "\n"
