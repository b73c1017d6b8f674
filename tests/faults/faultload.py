"""A mixed load with faults injected, and the accounting that proves no job
was lost and no result was written twice.

Shared by the short form (tests/faults/test_chaos.py, a few hundred jobs, run
by `scripts/dev test`) and the long form (bench/soak, 2 000 jobs).

Every job carries a token of its own (`e-<hex>` for an evaluation, `r-<hex>`
for a run) that comes back in its result: an evaluation returns the token, a
run echoes it. Every attempt to submit work, whatever its answer, is written
down with its tokens, so at the end each result envelope in Redis can be
traced back to exactly one attempt:

- an attempt that was acknowledged (202 from POST /jobs, 200 from /run or
  /evaluate_code) has exactly one result, and it is the expected one;
- an attempt that was not (429, 502, 503, 504, a broken connection) has at
  most one result: it may or may not have been queued, and if it was, it ran;
- no result exists that no attempt made;
- every job Redis knows of (`job:{id}`) has its result (nothing is lost), and
  its `done:{id}` list holds one envelope (nothing was delivered twice);
- the `jobs:{kind}:{status}` counters add up to the results of that kind;
- the queue and every processing list end empty.

Only the standard library, `requests` and tests/lib/stack.py are used.
"""

import json
import os
import random
import re
import signal
import sys
import threading
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import stack as stacklib  # noqa: E402

TOKEN_RE = re.compile(rb"\b([er]-[0-9a-f]{32})\b")

# Overrides for a stack that faults are injected into: a short lease so the
# reaper acts within seconds; tries generous enough that a job is not failed
# by the random kills (bounded tries are tested apart, with real kills).
CHAOS_OVERRIDES = {
    "anonymous": "repl,jobs,ops",
    "lease_ms": 1500,
    "job_max_tries": 6,
    "executor_slots": 2,
    "queue_max_depth": 100000,
    "jobs_batch_max": 1000,
    "run_timeout_default_s": 10,
    "case_timeout_s": 5,
}


def new_token(kind):
    return "%s-%s" % ("e" if kind == "evaluate" else "r", uuid.uuid4().hex)


# Seconds each job spends working, so that kills find jobs in flight.
JOB_SLEEP = {"evaluate": 0.02, "run": 0.2}


def eval_fields(tok, sleep=None):
    """An evaluation whose one case passes only by returning tok."""
    sleep = JOB_SLEEP["evaluate"] if sleep is None else sleep
    return {"code": "import time\n\ndef f(x):\n    time.sleep(%s)\n"
                    "    return %r if x == 1 else None\n" % (sleep, tok),
            "entry_point": "f",
            "io_cases": [{"input": "1", "output": repr(tok)}]}


def run_fields(tok, sid, timeout=10):
    return {"id": sid, "cmd": "sleep %s; echo %s" % (JOB_SLEEP["run"], tok),
            "timeout": timeout}


def check_eval_body(tok, body):
    """'' when body is the expected answer of evaluation tok, else why not."""
    try:
        if body.get("passed") is not True or body.get("error") is not None:
            return "not passed: %s" % json.dumps(body)[:300]
        cr = body["case_results"]
        if len(cr) != 1 or cr[0].get("got") != tok:
            return "wrong case results: %s" % json.dumps(cr)[:300]
    except (AttributeError, KeyError, TypeError, IndexError) as e:
        return "malformed (%s): %s" % (e, json.dumps(body)[:300])
    return ""


def check_run_body(tok, body):
    try:
        if body.get("stdout") != tok + "\n" or body.get("exit_code") != 0 \
                or body.get("status") != "ok":
            return "unexpected run result: %s" % json.dumps(body)[:300]
    except AttributeError:
        return "malformed: %r" % (body,)
    return ""


def check_body(tok, body):
    return check_eval_body(tok, body) if tok.startswith("e-") else check_run_body(tok, body)


class Attempt:
    """One request that may have queued work: its tokens, how it was
    answered, and (for POST /jobs) the job ids it got."""

    __slots__ = ("route", "tokens", "status", "code", "detail", "acked", "job_ids",
                 "elapsed", "result", "t0")

    def __init__(self, route, tokens):
        self.route = route
        self.tokens = tokens
        self.status = None
        self.code = None
        self.detail = None
        self.acked = False
        self.job_ids = []
        self.elapsed = None
        self.result = None
        self.t0 = time.monotonic()


class Ledger:
    """Everything the load did, written from many threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempts = []
        self.by_token = {}            # token -> Attempt
        self.async_jobs = {}          # job id -> token
        self.collected = {}           # job id -> final GET /jobs answer (dict)
        self.problems = []            # what the client saw that was wrong
        self.statuses = {}            # (route, status) -> count
        self.faults = {"executor_kill": 0, "executor_restart": 0, "api_worker_kill": 0,
                       "redis_restart": 0}
        self.redis_down = []          # probes made while Redis was down
        self.recovery_s = []          # Redis answering again -> first job done
        self.outage_s = []            # how long Redis was down
        self.notes = []

    def add(self, a):
        with self.lock:
            self.attempts.append(a)
            for t in a.tokens:
                self.by_token[t] = a
            key = (a.route, a.status)
            self.statuses[key] = self.statuses.get(key, 0) + 1
            if a.acked:
                for jid, t in zip(a.job_ids, a.tokens):
                    self.async_jobs[jid] = t

    def problem(self, text):
        with self.lock:
            self.problems.append(text)

    def fault(self, name):
        with self.lock:
            self.faults[name] += 1


def _json(r):
    try:
        return r.json()
    except ValueError:
        return None


class Client:
    """One client thread's HTTP session to nginx."""

    def __init__(self, url, ledger, sessions, timeout=60, headers=None):
        self.url = url
        self.s = requests.Session()
        self.s.headers.update(headers or {})
        self.ledger = ledger
        self.sessions = sessions
        self.timeout = timeout

    def _send(self, a, method, path, body=None, timeout=None):
        try:
            r = self.s.request(method, self.url + path, json=body,
                               timeout=timeout or self.timeout)
        except requests.RequestException as e:
            a.status = 0
            a.detail = type(e).__name__
            a.elapsed = time.monotonic() - a.t0
            return None
        a.status = r.status_code
        a.elapsed = time.monotonic() - a.t0
        b = _json(r)
        if r.status_code >= 400:
            if isinstance(b, dict):
                a.code, a.detail = b.get("code"), b.get("detail")
            if r.status_code == 500:
                # Faults of Redis, executors or workers are 502/503/504;
                # 500 says evald itself failed.
                self.ledger.problem("%s %s -> 500 %s" % (method, path, r.text[:200]))
            if not (isinstance(b, dict) and isinstance(b.get("detail"), str)
                    and isinstance(b.get("code"), str)):
                self.ledger.problem("%s %s -> %d without {detail, code}: %r"
                                    % (method, path, r.status_code, r.text[:200]))
        return r, b

    def batch(self, n, run_share=0.2, eval_sleep=None):
        """POST /jobs with n jobs, mostly evaluations. Returns the attempt."""
        toks, jobs = [], []
        for _ in range(n):
            if random.random() < run_share:
                t = new_token("run")
                jobs.append(dict(run_fields(t, random.choice(self.sessions)), kind="run"))
            else:
                t = new_token("evaluate")
                jobs.append(dict(eval_fields(t, eval_sleep), id="s-" + t, kind="evaluate"))
            toks.append(t)
        a = Attempt("POST /jobs batch", toks)
        got = self._send(a, "POST", "/jobs", {"jobs": jobs})
        if got and got[0].status_code == 202 and isinstance(got[1], dict):
            ids = got[1].get("job_ids")
            if isinstance(ids, list) and len(ids) == n:
                a.acked, a.job_ids = True, ids
            else:
                self.ledger.problem("batch answered 202 without %d job_ids: %r"
                                    % (n, got[0].text[:200]))
        self.ledger.add(a)
        return a

    def single(self, kind):
        t = new_token(kind)
        if kind == "run":
            body = dict(run_fields(t, random.choice(self.sessions)), kind="run")
        else:
            body = dict(eval_fields(t), id="s-" + t, kind="evaluate")
        a = Attempt("POST /jobs %s" % kind, [t])
        got = self._send(a, "POST", "/jobs", body)
        if got and got[0].status_code == 202 and isinstance(got[1], dict) \
                and isinstance(got[1].get("job_id"), str):
            a.acked, a.job_ids = True, [got[1]["job_id"]]
        self.ledger.add(a)
        return a

    def sync(self, kind, timeout=None):
        """POST /evaluate_code or /run and check the answer at once."""
        t = new_token(kind)
        if kind == "run":
            sid = random.choice(self.sessions)
            a = Attempt("POST /run", [t])
            got = self._send(a, "POST", "/run", run_fields(t, sid), timeout)
        else:
            sid = "s-" + t
            a = Attempt("POST /evaluate_code", [t])
            got = self._send(a, "POST", "/evaluate_code", dict(eval_fields(t), id=sid),
                             timeout)
        if got and got[0].status_code == 200:
            a.acked = True
            a.result = got[1]
            why = check_body(t, got[1]) if isinstance(got[1], dict) else "not an object"
            if not why and got[1].get("id") != sid:
                why = "id %r is not the session %r" % (got[1].get("id"), sid)
            if why:
                self.ledger.problem("%s %s: %s" % (a.route, t, why))
        self.ledger.add(a)
        return a

    def collect(self, job_id, deadline, wait=20):
        """deadline: a monotonic time, or a function returning one."""
        until = deadline if callable(deadline) else (lambda: deadline)
        return self._collect(job_id, until, wait)

    def _collect(self, job_id, until, wait):
        """GET /jobs/{id}?wait= until done or error (or deadline), riding out
        502/503 and broken connections. Returns the final answer or None."""
        errors = []
        while time.monotonic() < until():
            w = max(1, min(wait, int(until() - time.monotonic())))
            try:
                r = self.s.get("%s/jobs/%s" % (self.url, job_id), params={"wait": w},
                               timeout=w + 30)
            except requests.RequestException:
                time.sleep(0.2)
                continue
            b = _json(r)
            if r.status_code == 200 and isinstance(b, dict) and b.get("status") == "error" \
                    and b not in errors:
                # Possibly the job's own verdict, possibly Redis failing
                # while this request waited: look again to tell (a real
                # verdict answers the same at once).
                errors.append(b)
                time.sleep(0.3)
                continue
            if r.status_code == 200 and isinstance(b, dict) and b.get("status") in ("done",
                                                                                  "error"):
                for e in errors:
                    if e != b:
                        self.ledger.problem(
                            "GET /jobs/%s?wait=%d answered 200 %s, but the job was not "
                            "finished: it then answered status %r. A failure of Redis "
                            "during the wait must be a retryable 503, not the job's "
                            "final status" % (job_id, w, json.dumps(e), b.get("status")))
                return b
            if r.status_code == 200 and isinstance(b, dict) and b.get("status") == "pending":
                continue
            if r.status_code in (502, 503):
                time.sleep(0.2)
                continue
            self.ledger.problem("GET /jobs/%s -> %d %r" % (job_id, r.status_code, r.text[:200]))
            return None
        return None


def make_sessions(url, n, headers=None):
    """n sessions (with one file each) for run jobs; created before faults."""
    s = requests.Session()
    s.headers.update(headers or {})
    out = []
    for _ in range(n):
        sid = "run-" + uuid.uuid4().hex
        r = s.post(url + "/write_file", json={"id": sid, "rel_path": "seed.txt",
                                              "content": "seed"}, timeout=30)
        if r.status_code != 200:
            raise RuntimeError("could not create session: %d %s" % (r.status_code, r.text))
        out.append(sid)
    return out


# Shares of the plan; a batch carries `batch_size` jobs.
DEFAULT_MIX = {"batch": 0.35, "single_eval": 0.15, "single_run": 0.12,
               "sync_eval": 0.2, "sync_run": 0.18}


def make_plan(jobs, batch_size=20, mix=None):
    """A shuffled list of actions that together queue about `jobs` jobs."""
    mix = mix or DEFAULT_MIX
    plan = []
    n_batches = max(1, int(round(jobs * mix["batch"] / batch_size)))
    plan += [("batch", batch_size)] * n_batches
    rest = jobs - n_batches * batch_size
    singles = {k: v for k, v in mix.items() if k != "batch"}
    total = sum(singles.values())
    for k, v in singles.items():
        plan += [(k, 1)] * max(1, int(round(rest * v / total)))
    random.shuffle(plan)
    return plan


class Load:
    """Runs a plan from `clients` threads; async job ids are collected by
    `collectors` threads as they come. A refused or broken attempt is tried
    again (with new tokens) after a short pause, so the plan's work is done
    in the end whatever faults happen."""

    def __init__(self, url, ledger, sessions, plan, clients=6, collectors=4,
                 deadline_s=600, collect_grace_s=60, thread_init=None, headers=None):
        self.url = url
        self.ledger = ledger
        self.sessions = sessions
        self.plan = list(plan)
        self.plan_lock = threading.Lock()
        self.total_jobs = sum(n for _, n in plan)
        self.done_jobs = 0
        self.clients = clients
        self.collectors = collectors
        self.deadline = time.monotonic() + deadline_s
        # Once every job is submitted, results must come within this.
        self.collect_grace_s = collect_grace_s
        self.collect_deadline = self.deadline
        # Called first in every thread of the load (the multi-host test
        # moves each into the client's network namespace).
        self.thread_init = thread_init
        self.headers = headers
        self.ids = []
        self.ids_cv = threading.Condition()
        self.submitting = True
        self.threads = []
        self.finished = threading.Event()

    def progress(self):
        """Share of the plan's jobs acknowledged so far (0..1)."""
        with self.plan_lock:
            return self.done_jobs / float(self.total_jobs or 1)

    def _guard(self, fn):
        try:
            if self.thread_init:
                self.thread_init()
            fn()
        except Exception:           # a bug in the load itself: say so
            import traceback
            self.ledger.problem("load thread died: %s" % traceback.format_exc())

    def _client(self):
        c = Client(self.url, self.ledger, self.sessions, headers=self.headers)
        while time.monotonic() < self.deadline:
            with self.plan_lock:
                if not self.plan:
                    return
                action, n = self.plan.pop()
            if action == "batch":
                a = c.batch(n)
            elif action == "single_eval":
                a = c.single("evaluate")
            elif action == "single_run":
                a = c.single("run")
            elif action == "sync_eval":
                a = c.sync("evaluate")
            else:
                a = c.sync("run")
            if a.acked:
                with self.plan_lock:
                    self.done_jobs += n
                if a.job_ids:
                    with self.ids_cv:
                        self.ids.extend(a.job_ids)
                        self.ids_cv.notify_all()
            else:
                with self.plan_lock:
                    self.plan.append((action, n))
                time.sleep(random.uniform(0.1, 0.4))

    def _collector(self):
        c = Client(self.url, self.ledger, self.sessions, headers=self.headers)
        while True:
            with self.ids_cv:
                while not self.ids and self.submitting:
                    self.ids_cv.wait(0.5)
                if not self.ids:
                    return
                jid = self.ids.pop(0)
            b = c.collect(jid, lambda: self.collect_deadline)
            with self.ledger.lock:
                self.ledger.collected[jid] = b

    def start(self):
        for _ in range(self.clients):
            self.threads.append(threading.Thread(target=self._guard, args=(self._client,),
                                                 daemon=True))
        self.coll = [threading.Thread(target=self._guard, args=(self._collector,), daemon=True)
                     for _ in range(self.collectors)]
        for t in self.threads + self.coll:
            t.start()
        return self

    def wait(self):
        for t in self.threads:
            t.join(max(1, self.deadline - time.monotonic()))
        self.collect_deadline = min(self.deadline, time.monotonic() + self.collect_grace_s)
        with self.ids_cv:
            self.submitting = False
            self.ids_cv.notify_all()
        for t in self.coll:
            t.join(max(1, self.collect_deadline - time.monotonic() + 60))
        self.finished.set()
        with self.plan_lock:
            left = len(self.plan)
        if left:
            self.ledger.problem("the load did not finish its plan: %d actions left "
                                "at the deadline" % left)


class Faults:
    """Injects faults while a Load runs: executors SIGKILLed at random
    (one at a time, every kill_every seconds) and restarted restart_after
    seconds later, one API worker killed (once `api_at` of the plan's jobs
    are acknowledged), redis-server restarted once (at `redis_at`) and kept
    down `redis_down_s` seconds."""

    def __init__(self, st, ledger, load, kill_every=(0.7, 2.5), restart_after=(0.0, 1.2),
                 api_at=0.25, redis_at=0.5, redis_down_s=2.0, log=None):
        self.st = st
        self.ledger = ledger
        self.load = load
        self.kill_every = kill_every
        self.restart_after = restart_after
        self.api_at = api_at
        self.redis_at = redis_at
        self.redis_down_s = redis_down_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.error = None
        self.log = log or (lambda *a: None)
        self.api_respawn_s = None

    def start(self):
        self.thread.start()
        return self

    def join(self):
        self.stop.set()
        self.thread.join(120)
        for i in range(self.st.n_executors):
            if not self.st.executor_alive(i):
                self.st.start_executor(i)
                self.ledger.fault("executor_restart")

    def _run(self):
        try:
            self._loop()
        except Exception as e:      # reported by the test, never swallowed
            import traceback
            self.error = "%s\n%s" % (e, traceback.format_exc())

    def _loop(self):
        api_done = False
        redis_todo = [self.redis_at]
        next_kill = time.monotonic() + random.uniform(*self.kill_every)
        while not self.stop.is_set() and not self.load.finished.is_set():
            p = self.load.progress()
            if not api_done and p >= self.api_at:
                self.kill_api_worker()
                api_done = True
            if redis_todo and p >= redis_todo[0]:
                redis_todo.pop(0)
                self.restart_redis()
            if time.monotonic() >= next_kill:
                self.kill_random_executor()
                next_kill = time.monotonic() + random.uniform(*self.kill_every)
            time.sleep(0.05)

    def kill_random_executor(self):
        st = self.st
        alive = [i for i in range(st.n_executors) if st.executor_alive(i)]
        if not alive:
            return
        i = random.choice(alive)
        st.kill_executor(i, signal.SIGKILL)
        self.ledger.fault("executor_kill")
        self.log("fault: SIGKILL executor %d" % i)
        time.sleep(random.uniform(*self.restart_after))
        st.start_executor(i)
        self.ledger.fault("executor_restart")

    def kill_api_worker(self):
        st = self.st
        before = st.api_worker_pids()
        if not before:
            self.ledger.problem("no API worker to kill")
            return
        victim = random.choice(before)
        os.kill(victim, signal.SIGKILL)
        self.ledger.fault("api_worker_kill")
        self.log("fault: SIGKILL API worker %d" % victim)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10:
            now = st.api_worker_pids()
            if victim not in now and len(now) == len(before):
                self.api_respawn_s = time.monotonic() - t0
                return
            time.sleep(0.05)
        self.ledger.problem("the API supervisor did not respawn worker %d within 10 s "
                            "(workers now %r)" % (victim, st.api_worker_pids()))

    def restart_redis(self):
        st = self.st
        self.log("fault: stopping redis-server")
        st.stop_redis()
        t_down = time.monotonic()
        self.ledger.fault("redis_restart")
        probe = Client(st.url, self.ledger, self.load.sessions, timeout=30)
        some_id = None
        with self.ledger.lock:
            if self.ledger.async_jobs:
                some_id = next(iter(self.ledger.async_jobs))
        probes = [("GET", "/healthz", None),
                  ("POST", "/jobs", dict(eval_fields("e-" + "0" * 32), id="probe",
                                         kind="evaluate")),
                  ("POST", "/evaluate_code", dict(eval_fields("e-" + "0" * 32), id="probe")),
                  ("GET", "/read_file?id=%s&rel_path=seed.txt" % self.load.sessions[0], None)]
        if some_id:
            probes.append(("GET", "/jobs/%s?wait=5" % some_id, None))
        while time.monotonic() - t_down < self.redis_down_s:
            for method, path, body in probes:
                t0 = time.monotonic()
                try:
                    r = probe.s.request(method, st.url + path, json=body, timeout=30)
                    status, b = r.status_code, _json(r)
                except requests.RequestException as e:
                    status, b = 0, {"exception": type(e).__name__}
                with self.ledger.lock:
                    self.ledger.redis_down.append({"route": "%s %s" % (method, path.split("?")[0]),
                                                   "status": status,
                                                   "body": b,
                                                   "elapsed_s": time.monotonic() - t0})
            time.sleep(0.2)
        # A POST /jobs probe that was answered 503 queued nothing: the token
        # "e-000..." must never show up in a result (checked at the end).
        st.start_redis()
        t_up = time.monotonic()
        with self.ledger.lock:
            self.ledger.outage_s.append(t_up - t_down)
        self.log("fault: redis-server back after %.2f s" % (t_up - t_down))
        # Recovery: the first synchronous evaluation that comes back right.
        while time.monotonic() - t_up < 120:
            a = probe.sync("evaluate", timeout=30)
            if a.acked:
                with self.ledger.lock:
                    self.ledger.recovery_s.append(time.monotonic() - t_up)
                return
            time.sleep(0.05)
        self.ledger.problem("the service did not recover within 120 s of Redis restarting")


class Sampler:
    """Checks, every `every` seconds while the load runs, that no processing
    list holds more than one job (a slot takes one job at a time) and that no
    executor holds more lists than it has slots."""

    def __init__(self, st, ledger, slots, every=0.3):
        self.st = st
        self.ledger = ledger
        self.slots = slots
        self.every = every
        self.stop = threading.Event()
        self.max_in_proc = 0
        self.max_depth = 0
        self.samples = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def join(self):
        self.stop.set()
        self.thread.join(30)

    def _run(self):
        r = stacklib.Redis(self.st.redis_port, timeout=2)
        while not self.stop.wait(self.every):
            try:
                keys = scan(r, "evald:proc:*")
                per_exec = {}
                for k in keys:
                    n = r("LLEN", k) or 0
                    self.max_in_proc = max(self.max_in_proc, n)
                    eid, slot = k.decode().rsplit(":", 1)
                    per_exec.setdefault(eid, set()).add(int(slot))
                    if n > 1:
                        self.ledger.problem("processing list %s holds %d jobs" % (k, n))
                    if int(slot) >= self.slots:
                        self.ledger.problem("processing list %s is beyond %d slots"
                                            % (k, self.slots))
                self.max_depth = max(self.max_depth, r("LLEN", "evald:queue") or 0)
                self.samples += 1
            except (OSError, EOFError, stacklib.RedisError):
                r.close()       # Redis is being restarted
        r.close()


def scan(r, pattern):
    """Every key matching pattern (SCAN, not KEYS)."""
    out, cursor = [], b"0"
    while True:
        cursor, keys = r("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
        out.extend(keys)
        if cursor in (b"0", 0):
            return out


def wait_drained(r, timeout=90):
    """Waits until the queue and every processing list are empty. Returns
    (queue length, {list: length}) at the end."""
    deadline = time.monotonic() + timeout
    while True:
        q = r("LLEN", "evald:queue")
        procs = {k.decode(): r("LLEN", k) for k in scan(r, "evald:proc:*")}
        procs = {k: v for k, v in procs.items() if v}
        if (q == 0 and not procs) or time.monotonic() > deadline:
            return q, procs
        time.sleep(0.2)


def verify(st, ledger, drain_timeout=60, redis=None):
    """The end-of-run accounting. Returns (report dict, [problems]).
    redis: a client to use instead of one to st's Redis on loopback."""
    r = redis or stacklib.Redis(st.redis_port, timeout=10)
    problems = list(ledger.problems)
    q, procs = wait_drained(r, drain_timeout)
    if q:
        problems.append("the queue still holds %d jobs" % q)
    if procs:
        problems.append("processing lists not empty: %r" % procs)

    # Every job Redis knows of must have its result (wait a little for the
    # last ones: a drained queue can still have a job being published).
    deadline = time.monotonic() + 10
    while True:
        job_ids = {k.decode().split(":", 2)[2] for k in scan(r, "evald:job:*")}
        res_ids = {k.decode().split(":", 2)[2] for k in scan(r, "evald:res:*")}
        lost = sorted(job_ids - res_ids)
        if not lost or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for jid in lost[:20]:
        problems.append("job %s was queued (job:%s exists) but has no result (tries %r)"
                        % (jid, jid, r("GET", "evald:tries:" + jid)))

    # Map every result back to the attempt that made it.
    tok_to_ids = {}
    res_by_id = {}
    no_token = []
    per_kind = {"evaluate": 0, "run": 0}
    done_len_bad = []
    tries_hist = {}
    for jid in sorted(res_ids):
        env = r("GET", "evald:res:" + jid)
        if env is None:
            continue
        res_by_id[jid] = env
        toks = set(TOKEN_RE.findall(env))
        if len(toks) != 1:
            no_token.append((jid, env[:200]))
            continue
        tok = toks.pop().decode()
        tok_to_ids.setdefault(tok, []).append(jid)
        per_kind["evaluate" if tok.startswith("e-") else "run"] += 1
        n = r("LLEN", "evald:done:" + jid)
        if n != 1:
            done_len_bad.append((jid, n))
        t = int(r("GET", "evald:tries:" + jid) or 0)
        tries_hist[t] = tries_hist.get(t, 0) + 1
    for jid, env in no_token[:20]:
        problems.append("result %s carries no token of this run: %r" % (jid, env))
    for jid, n in done_len_bad[:20]:
        problems.append("done:%s holds %r envelopes (a result delivered twice?)" % (jid, n))

    duplicated = [t for t, ids in tok_to_ids.items() if len(ids) > 1]
    for t in duplicated[:20]:
        problems.append("token %s has %d results: %r" % (t, len(tok_to_ids[t]), tok_to_ids[t]))
    phantom = [t for t in tok_to_ids if t not in ledger.by_token]
    for t in phantom[:20]:
        problems.append("result for token %s that no request made" % t)

    acked_missing, wrong = [], []
    unacked_ran = 0
    attempts_per_kind = {"evaluate": 0, "run": 0}
    for a in ledger.attempts:
        for i, t in enumerate(a.tokens):
            attempts_per_kind["evaluate" if t.startswith("e-") else "run"] += 1
            ids = tok_to_ids.get(t, [])
            if not a.acked:
                unacked_ran += len(ids) == 1
                continue
            if len(ids) != 1:
                acked_missing.append((a.route, t, ids))
                continue
            if a.job_ids:
                jid = a.job_ids[i]
                if ids[0] != jid:
                    wrong.append("%s: token %s is in res:%s, expected res:%s"
                                 % (a.route, t, ids[0], jid))
                    continue
                got = ledger.collected.get(jid)
                if not got or got.get("status") != "done":
                    wrong.append("GET /jobs/%s answered %r" % (jid, got))
                    continue
                why = check_body(t, got.get("result") or {})
                if why:
                    wrong.append("GET /jobs/%s: %s" % (jid, why))
                env = json.loads(res_by_id[jid])
                if env.get("ok") is not True or check_body(t, env.get("body") or {}):
                    wrong.append("res:%s is not the expected result: %r"
                                 % (jid, res_by_id[jid][:200]))
    for route, t, ids in acked_missing[:20]:
        problems.append("%s acknowledged token %s but %d results hold it %r"
                        % (route, t, len(ids), ids))
    problems.extend(wrong[:20])

    stats = r("HGETALL", "evald:stats") or []
    stats = {stats[i].decode(): int(stats[i + 1]) for i in range(0, len(stats), 2)}
    stat_kind = {"evaluate": 0, "run": 0}
    for k, v in stats.items():
        parts = k.split(":")
        if len(parts) == 3 and parts[1] in stat_kind:
            stat_kind[parts[1]] += v
    # Each counter is bumped only by the call that wrote the result, so the
    # counters add up to the results (a result without a token, such as an
    # internal_error after too many tries, is of a kind the envelope
    # does not say).
    if sum(stat_kind.values()) != sum(per_kind.values()) + len(no_token):
        problems.append("stats count %r jobs finished but Redis holds %r results "
                        "(+%d without a token)" % (stat_kind, per_kind, len(no_token)))
    for kind in ("evaluate", "run"):
        if stat_kind[kind] < per_kind[kind]:
            problems.append("stats count %d %s jobs finished but Redis holds %d %s results"
                            % (stat_kind[kind], kind, per_kind[kind], kind))
        if stat_kind[kind] > attempts_per_kind[kind]:
            problems.append("stats count %d %s jobs, more than the %d submitted"
                            % (stat_kind[kind], kind, attempts_per_kind[kind]))

    # Requests made while Redis was down.
    slow = [p for p in ledger.redis_down if p["elapsed_s"] >= 5.0]
    not503 = [p for p in ledger.redis_down if p["status"] != 503 or not (
        isinstance(p["body"], dict) and isinstance(p["body"].get("detail"), str)
        and isinstance(p["body"].get("code"), str))]
    for p in slow[:10]:
        problems.append("a request while Redis was down took %.2f s: %r" % (p["elapsed_s"], p))
    for p in not503[:10]:
        problems.append("a request while Redis was down was not 503 {detail, code}: %r" % p)
    for t in tok_to_ids:
        if t == "e-" + "0" * 32:
            problems.append("a POST /jobs refused while Redis was down queued its job")

    acked_jobs = sum(len(a.tokens) for a in ledger.attempts if a.acked)
    report = {
        "jobs_acknowledged": acked_jobs,
        "jobs_submitted": sum(attempts_per_kind.values()),
        "requests": len(ledger.attempts),
        "requests_not_acknowledged": sum(1 for a in ledger.attempts if not a.acked),
        "unacknowledged_that_ran_anyway": unacked_ran,
        "results_in_redis": len(res_ids),
        "results_by_kind": per_kind,
        "stats_by_kind": stat_kind,
        "jobs_lost": len(lost) + len(acked_missing),
        "results_duplicated": len(duplicated) + len(done_len_bad),
        "wrong_results": len(wrong) + len(no_token),
        "tries_histogram": dict(sorted(tries_hist.items())),
        "faults": dict(ledger.faults),
        "redis_outage_s": [round(x, 2) for x in ledger.outage_s],
        "recovery_after_redis_restart_s": [round(x, 2) for x in ledger.recovery_s],
        "redis_down_probes": len(ledger.redis_down),
        "redis_down_probe_max_s": round(max([p["elapsed_s"] for p in ledger.redis_down]
                                            or [0]), 3),
        "statuses": {"%s %s" % k: v for k, v in sorted(ledger.statuses.items(),
                                                       key=lambda kv: str(kv[0]))},
    }
    if redis is None:
        r.close()
    return report, problems


def executor_index(st, eid):
    """The index in st.executors of the executor named eid
    (hostname-PID-random), or None."""
    try:
        pid = int(eid.rsplit("-", 2)[1])
    except (IndexError, ValueError):
        return None
    for i, p in enumerate(st.executors):
        if p is not None and p.pid == pid:
            return i
    return None


def find_holder(st, needle, timeout=20.0):
    """Waits until a job whose JSON contains needle sits in a processing
    list. Returns (executor index, executor id, job dict)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for key in scan(st.redis, "evald:proc:*"):
            for payload in st.redis("LRANGE", key, 0, -1) or []:
                if needle.encode() in payload:
                    eid = key.decode()[len("evald:proc:"):].rsplit(":", 1)[0]
                    i = executor_index(st, eid)
                    if i is not None:
                        return i, eid, json.loads(payload)
        time.sleep(0.02)
    raise AssertionError("no processing list held a job with %r within %.0f s"
                         % (needle, timeout))


def ensure_executors(st, timeout=15.0):
    """Restarts any executor a test left stopped, then waits until every
    running executor holds a live lease."""
    for i in range(st.n_executors):
        if not st.executor_alive(i):
            st.start_executor(i)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now_ms = int(time.time() * 1000)
        live = st.redis("ZRANGEBYSCORE", "evald:alive", now_ms, "+inf") or []
        idx = {executor_index(st, e.decode()) for e in live}
        if all(i in idx for i in range(st.n_executors)):
            return
        time.sleep(0.1)
    raise AssertionError("executors did not all register within %.0f s" % timeout)


# ------------------------------------------------------------------ stacks
# The small stack of the targeted fault tests: two executors of two slots,
# a queue of at most 8 jobs, lease 1.5 s, two tries, debug logs (each job's
# id and verdict in its executor's log), a 5 s margin for synchronous routes.
SMALL_OVERRIDES = {
    "anonymous": "repl,jobs,ops",
    "lease_ms": 1500,
    "job_max_tries": 2,
    "executor_slots": 2,
    "queue_max_depth": 8,
    "job_wait_margin_s": 5,
    "run_timeout_default_s": 10,
    "run_timeout_max_s": 60,
    "case_timeout_s": 2,
    "log_level": "debug",
}


def retry_503(fn, seconds=15):
    """fn() until it answers something else than 503 (workers back off for a
    moment after a failed connect)."""
    deadline = time.monotonic() + seconds
    while True:
        r = fn()
        if r.status_code != 503 or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


def new_session(st, after_restart=False):
    """A fresh session holding seed.txt, for run jobs. after_restart: Redis
    may have been restarted just before (by the test before), and an API
    worker whose connect failed then answers 503 (correctly) until its
    back-off has passed: retry those."""
    sid = "rq-" + uuid.uuid4().hex

    def write():
        return requests.post(st.url + "/write_file", timeout=30,
                             json={"id": sid, "rel_path": "seed.txt", "content": "seed"})
    r = retry_503(write) if after_restart else write()
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
        except BaseException as e:      # handed to the caller by join()
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


def collect_all(st, ids, wait=30):
    """{job id: GET /jobs/{id}?wait= answer} for every id."""
    out = {}
    for jid in ids:
        r = requests.get("%s/jobs/%s" % (st.url, jid), params={"wait": wait}, timeout=wait + 30)
        assert r.status_code == 200, r.text
        out[jid] = r.json()
    return out


def batch_of_evals(st, n):
    """POST /jobs with n evaluations; {job id: token}."""
    toks = ["e-" + uuid.uuid4().hex for _ in range(n)]
    jobs = [dict(eval_fields(t), id="s-" + t, kind="evaluate") for t in toks]
    r = requests.post(st.url + "/jobs", json={"jobs": jobs}, timeout=30)
    assert r.status_code == 202, r.text
    return dict(zip(r.json()["job_ids"], toks))


def read_from(path, offset):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")
