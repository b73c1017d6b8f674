"""evald on several hosts made of network namespaces (see hosts.py): Redis on
one, evald-api and nginx on another, executors on three more, the clients on a
sixth. Executors reach Redis over TCP with a password and database 2.

1. A mixed load flows across the hosts while executors join and leave (one
   drains with SIGTERM, one is SIGKILLed); every job completes exactly once.
2. The same 300-evaluation batch with 1, 2 and 3 executor hosts: the
   throughput is printed, never asserted (the figures go to docs/scaling.md).

If the namespaces cannot be built here, the tests fail; they never skip.
"""

import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "faults"))
import hosts  # noqa: E402
import faultload  # noqa: E402

BATCH = 300
SLOTS = 1          # executor_slots per host: a host stands for one core


@pytest.fixture(scope="module")
def cluster(request):
    """(Cluster, shared Ledger) or (None, why the hosts could not be built)."""
    net = hosts.Net()
    d = tempfile.mkdtemp(prefix="evald-multihost-")
    cl = None

    def on_term(sig, frame):
        # Let the finalizer below run: it deletes the namespaces.
        raise KeyboardInterrupt("signal %d" % sig)
    prev = signal.signal(signal.SIGTERM, on_term)
    try:
        try:
            net.setup()
        except (hosts.NetError, OSError, ValueError) as e:
            yield None, ("cannot build network-namespace hosts (ip netns, veth pairs, a "
                         "bridge) on this machine, so the multi-host test cannot run: "
                         "%s: %s" % (type(e).__name__, e))
            return
        try:
            cl = hosts.Cluster(net, d, executor_slots=SLOTS)
            cl.start()
            cl.start_executor("ex1")
        except (hosts.NetError, OSError, ValueError) as e:
            yield None, ("evald did not start on the namespace hosts (logs in %s): %s: %s"
                         % (d, type(e).__name__, e))
            return
        yield cl, faultload.Ledger()
    finally:
        try:
            if cl is not None:
                cl.stop()
        finally:
            left = net.cleanup()
            signal.signal(signal.SIGTERM, prev)
        if left:
            print("\nmultihost cleanup left: %s" % left)
        if request.session.testsfailed or os.environ.get("EVALD_KEEP"):
            print("\nmultihost logs kept in %s" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)


def need(cluster):
    cl, ledger = cluster
    if cl is None:
        pytest.fail(ledger, pytrace=False)
    return cl, ledger


def cli_init(cl):
    ns = "/run/netns/" + cl.net.ns("cli")
    return lambda: hosts._setns(ns)


def set_hosts(cl, roles):
    """Exactly the executors on roles run (others drained with SIGTERM)."""
    for role in ("ex1", "ex2", "ex3"):
        running = cl.executors.get(role) is not None and cl.executors[role].alive()
        if role in roles and not running:
            cl.start_executor(role)
        elif role not in roles and running:
            cl.stop_executor(role, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while cl.live_executors() != len(roles):
        assert time.monotonic() < deadline, "live executors %d, wanted %d" % (
            cl.live_executors(), len(roles))
        time.sleep(0.1)


class Holders:
    """Samples which executor ids hold jobs (own Redis connection)."""

    def __init__(self, cl):
        self.cl = cl
        self.r = hosts.NsRedis(cl.net.ns("redis"), cl.net.addr("redis"), hosts.REDIS_PORT,
                               cl.password, hosts.REDIS_DB)
        self.seen = set()
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.wait(0.05):
            try:
                for k in faultload.scan(self.r, "evald:proc:*"):
                    if self.r("LLEN", k):
                        self.seen.add(k.decode()[len("evald:proc:"):].rsplit(":", 1)[0])
            except (OSError, EOFError):
                self.r.close()

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.t.join(10)
        self.r.close()


def test_jobs_flow_across_hosts_while_executors_join_and_leave(cluster):
    cl, ledger = need(cluster)
    set_hosts(cl, ["ex1"])
    sessions = hosts.run_in(cl.net.ns("cli"), faultload.make_sessions, cl.url, 4, cl.auth())
    plan = faultload.make_plan(300, batch_size=20)
    load = faultload.Load(cl.url, ledger, sessions, plan, clients=6, collectors=4,
                          deadline_s=240, collect_grace_s=60, thread_init=cli_init(cl),
                          headers=cl.auth())
    events = []
    pids = {}

    def note(what):
        events.append("%5.1f s  %3.0f%%  %s" % (time.monotonic() - t0, 100 * load.progress(),
                                                 what))

    def membership():
        steps = [(0.10, "ex2", "join ex2", lambda: cl.start_executor("ex2", wait=False)),
                 (0.25, "ex3", "join ex3", lambda: cl.start_executor("ex3", wait=False)),
                 (0.40, "ex1", "ex1 leaves (SIGTERM, drains)",
                  lambda: cl.stop_executor("ex1", signal.SIGTERM)),
                 (0.55, "ex2", "ex2 dies (SIGKILL)",
                  lambda: cl.stop_executor("ex2", signal.SIGKILL)),
                 (0.65, "ex1", "ex1 joins again", lambda: cl.start_executor("ex1", wait=False)),
                 (0.80, "ex2", "ex2 joins again", lambda: cl.start_executor("ex2", wait=False))]
        for at, role, what, act in steps:
            while load.progress() < at and not load.finished.is_set():
                time.sleep(0.02)
            if load.finished.is_set():
                note("load ended before: " + what)
                return
            p = act()
            if hasattr(p, "pid"):
                pids[p.pid] = role
            note(what)

    for role, p in cl.executors.items():
        if p is not None:
            pids[p.pid] = role
    t0 = time.monotonic()
    with Holders(cl) as holders:
        m = threading.Thread(target=membership, daemon=True)
        m.start()
        load.start()
        load.wait()
        m.join(60)
    took = time.monotonic() - t0
    set_hosts(cl, ["ex1", "ex2", "ex3"])
    report, problems = faultload.verify(None, ledger, drain_timeout=60, redis=cl.redis)
    hosts_seen = {pids.get(int(e.rsplit("-", 2)[1]), "?") for e in holders.seen}
    report["executor_ids_that_held_jobs"] = len(holders.seen)
    report["hosts_that_held_jobs"] = sorted(hosts_seen)
    print("\nmembership changes:\n  " + "\n  ".join(events))
    print("load of %d jobs took %.1f s" % (report["jobs_acknowledged"], took))
    print(json.dumps(report, indent=1, sort_keys=True))
    for p in problems[:40]:
        print("PROBLEM:", p)
    assert len(events) == 6 and not any("ended before" in e for e in events), events
    assert {"ex1", "ex2", "ex3"} <= hosts_seen, hosts_seen
    assert not problems, "\n".join(problems[:40])


def tree_cpu_s(pids):
    """CPU seconds used by the processes pids and all their descendants,
    including the children they reaped (utime + stime + cutime + cstime)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    seen = set()
    for pid in pids:
        for p in [pid] + [c for c, _ in hosts.stacklib.descendants(pid)]:
            if p in seen:
                continue
            seen.add(p)
            try:
                with open("/proc/%d/stat" % p, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            fields = data[data.rindex(b")") + 2:].split()
            total += sum(int(x) for x in fields[11:15])
    return total / float(tick)


def _throughput_round(cl, ledger, n):
    """One POST /jobs of n evaluations, results collected by 8 clients.
    Returns seconds from the POST to the last result."""
    def body():
        c = faultload.Client(cl.url, ledger, [], headers=cl.auth())
        t0 = time.monotonic()
        a = c.batch(n, run_share=0, eval_sleep=0)
        assert a.acked, (a.status, a.detail)
        ids = list(a.job_ids)
        lock = threading.Lock()
        answers = {}

        def collector():
            hosts._setns("/run/netns/" + cl.net.ns("cli"))
            cc = faultload.Client(cl.url, ledger, [], headers=cl.auth())
            while True:
                with lock:
                    if not ids:
                        return
                    jid = ids.pop()
                answers[jid] = cc.collect(jid, time.monotonic() + 120, wait=60)

        ts = [threading.Thread(target=collector, daemon=True) for _ in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(200)
        took = time.monotonic() - t0
        for jid, tok in zip(a.job_ids, a.tokens):
            b = answers.get(jid)
            assert b and b.get("status") == "done", (jid, b)
            assert faultload.check_eval_body(tok, b["result"]) == ""
            ledger.collected[jid] = b
        return took
    return hosts.run_in(cl.net.ns("cli"), body, timeout=400)


def test_throughput_with_1_2_3_executor_hosts(cluster):
    cl, ledger = need(cluster)
    rows = []
    for k in (1, 2, 3):
        set_hosts(cl, ["ex1", "ex2", "ex3"][:k])
        _throughput_round(cl, ledger, 30)          # warm every slot's sandbox
        ex = [cl.executors[r].pid for r in ("ex1", "ex2", "ex3")[:k]]
        front = [cl.procs[n].pid for n in ("api", "nginx")]
        red = [cl.procs["redis"].pid]
        c0, f0, r0 = tree_cpu_s(ex), tree_cpu_s(front), tree_cpu_s(red)
        times = [_throughput_round(cl, ledger, BATCH) for _ in range(2)]
        c1, f1, r1 = tree_cpu_s(ex), tree_cpu_s(front), tree_cpu_s(red)
        best = min(times)
        per = 1000.0 / (2 * BATCH)
        rows.append((k, times, BATCH / statistics.median(times), BATCH / best,
                     per * (c1 - c0), per * (f1 - f0), per * (r1 - r0)))
    report, problems = faultload.verify(None, ledger, drain_timeout=60, redis=cl.redis)
    lines = ["", "throughput: one POST /jobs of %d evaluations, collected by 8 clients "
                 "(executor_slots = %d per host; all hosts share this machine's %d cores; "
                 "load average %.1f)" % (BATCH, SLOTS, os.cpu_count() or 0, os.getloadavg()[0]),
             "| executor hosts | seconds (2 rounds) | jobs/s (median) | jobs/s (best) "
             "| CPU ms per job: executors | api+nginx | redis |",
             "|---|---|---|---|---|---|---|"]
    for k, times, med, best, ex_ms, front_ms, redis_ms in rows:
        lines.append("| %d | %s | %.0f | %.0f | %.2f | %.2f | %.2f |" % (
            k, " / ".join("%.2f" % t for t in times), med, best, ex_ms, front_ms, redis_ms))
    ex_ms = statistics.median(r[4] for r in rows)
    lines.append("executor CPU per evaluation %.2f ms: about %.0f evaluations/s per fully "
                 "used executor core" % (ex_ms, 1000.0 / ex_ms if ex_ms else 0))
    print("\n".join(lines))
    print("jobs lost %d, results duplicated %d" % (report["jobs_lost"],
                                                   report["results_duplicated"]))
    assert not problems, "\n".join(problems[:40])
