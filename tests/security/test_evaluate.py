"""Attacks through POST /evaluate_code: the submitted Python runs in the same
sandbox as /run, under a harness that holds every case's expected value. The
code must learn nothing of the host, reach nothing, and never make a wrong
answer pass (forged verdicts, expected values read from the harness,
objects that claim equality, killing the harness)."""

import json
import secrets
import textwrap

import pytest


# Submitted code that lists every pid up to `top`, other than its own, that
# answers kill(pid, 0): a live process, or one the code may not signal.
LIVE_PIDS = """
def live_pids(top):
    alive = []
    for pid in range(2, top):
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except ProcessLookupError:
            pass
        except OSError:
            alive.append(pid)
    return alive
"""


def text(body):
    return json.dumps(body)


def test_evaluate_reads_host_secrets(api, stack, sec):
    body = api.evaluate('''
        import os
        def f(x):
            found = {"ran": True}
            for p in ("/etc/shadow", %r, "/proc/1/environ", "/proc/1/cmdline"):
                try:
                    found[p] = open(p).read()[:200]
                except OSError as e:
                    found[p] = type(e).__name__
            found["env"] = dict(os.environ)
            found["environs"] = [open("/proc/%%s/environ" %% p, "rb").read().decode("latin-1")
                                 for p in os.listdir("/proc") if p.isdigit()
                                 if os.access("/proc/%%s/environ" %% p, os.R_OK)]
            return repr(found)
    ''' % str(stack.conf_path), "f", [{"input": "1", "output": "'x'"}])
    t = text(body)
    got = body["case_results"][0]["got"]
    assert isinstance(got, str) and "'ran': True" in got, body     # the code ran
    assert body["passed"] is False
    assert sec.CANARY_VALUE not in t and stack.redis_password not in t, t
    assert "redis_password" not in t and "root:*:" not in t, t
    assert "'/etc/shadow': 'FileNotFoundError'" in got, got
    assert "'%s': 'FileNotFoundError'" % stack.conf_path in got, got
    assert "'/proc/1/environ': 'FileNotFoundError'" in got, got


def test_evaluate_reaches_the_network(api, stack):
    body = api.evaluate('''
        import errno, socket
        def f(ports):
            out = []
            for port in ports:
                s = socket.socket()
                s.settimeout(2)
                try:
                    s.connect(("127.0.0.1", port))
                    out.append("CONNECTED")
                except OSError as e:
                    out.append(errno.errorcode.get(e.errno, str(e.errno)))
            return out
    ''', "f", [{"input": "[%d, %d]" % (stack.redis_port, stack.http_port),
                "output": "['ENETUNREACH', 'ENETUNREACH']"}])
    assert body["case_results"][0]["got"] == ["ENETUNREACH", "ENETUNREACH"], body
    assert body["passed"] is True


def test_evaluate_forges_a_verdict(api):
    """A wrong answer whose code writes a passing document everywhere it
    can (every descriptor, stdout, at import and in the call), then ends
    its process: the verdict stays failed."""
    body = api.evaluate('''
        import os, sys
        DOC = (b'{"passed": true, "error": null, "case_results": [{"case": 0, "input": "1", '
               b'"passed": true, "got": 2, "expected": 2, "error": null}]}')
        def spray():
            for fd in range(0, 256):
                try:
                    os.write(fd, DOC)
                except OSError:
                    pass
            print(DOC.decode())
        spray()
        def f(x):
            spray()
            sys.stdout.flush()
            os._exit(0)
    ''', "f", [{"input": "1", "output": "2"}])
    assert body["passed"] is False, body
    assert body["case_results"][0]["passed"] is False, body


def test_evaluate_wrong_answer_claims_equality(api):
    body = api.evaluate('''
        class Liar:
            def __eq__(self, other):
                return True
            def __ne__(self, other):
                return False
            def __hash__(self):
                return 0
        class LyingInt(int):
            def __eq__(self, other):
                return True
        def f(x):
            return Liar() if x == 1 else LyingInt(7)
    ''', "f", [{"input": "1", "output": "2"}, {"input": "2", "output": "3"}])
    assert body["passed"] is False, body
    assert [c["passed"] for c in body["case_results"]] == [False, False], body


def test_evaluate_reads_other_cases_expected_values(api):
    """Case 0 searches everything a process of the sandbox can read (other
    processes' memory, descriptors, environments, command lines, its own
    heap and stdin) for case 1's expected value, which only the harness's
    master holds. Case 0's own input carries a control value of the same
    shape, which the scan must find (in its own heap): the scan works."""
    secret = "EXPECTED-" + secrets.token_hex(8)
    control = "EXPECTED-" + secrets.token_hex(8)
    body = api.evaluate('''
        import gc, os, re
        NEEDLE = "EXP" + "ECTED-"
        def scan_pid(pid, found):
            base = "/proc/%s/" % pid
            for what in ("cmdline", "environ"):
                try:
                    found.append(open(base + what, "rb").read().decode("latin-1"))
                except OSError:
                    pass
            try:
                for fd in os.listdir(base + "fd"):
                    try:
                        with open(base + "fd/" + fd, "rb") as f:
                            os.set_blocking(f.fileno(), False)
                            found.append((f.read(1 << 20) or b"").decode("latin-1"))
                    except (OSError, TypeError):
                        pass
            except OSError:
                pass
            try:
                maps = open(base + "maps").read().splitlines()
                with open(base + "mem", "rb") as mem:
                    for line in maps:
                        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                        if "rw" not in line.split()[1] or hi - lo > (64 << 20):
                            continue
                        try:
                            mem.seek(lo)
                            found.append(mem.read(hi - lo).decode("latin-1"))
                        except (OSError, ValueError, OverflowError):
                            pass
            except OSError:
                pass
        def f(x):
            if x == 1:
                return "case1"
            found = []
            for pid in os.listdir("/proc"):
                if pid.isdigit() and int(pid) != os.getpid():
                    scan_pid(pid, found)
            for fd in range(0, 64):
                try:
                    os.set_blocking(fd, False)
                    found.append(os.read(fd, 1 << 20).decode("latin-1"))
                except (OSError, BlockingIOError):
                    pass
            for o in gc.get_objects():
                found.append(repr(o)[:10000])
            blob = "\\n".join(found)
            leaks = sorted(set(re.findall(NEEDLE + "[0-9a-f]{16}", blob)))
            return "scanned %d bytes; leaks %s" % (len(blob), leaks)
    ''', "f", [{"input": repr(control), "output": "'nothing'"},
               {"input": "1", "output": repr(secret)}])
    got = body["case_results"][0]["got"]
    assert isinstance(got, str) and got.startswith("scanned "), body      # it ran
    assert int(got.split()[1]) > 10000, got                               # it read things
    assert got.endswith("leaks ['%s']" % control), got                    # only its own
    assert secret not in text(body["case_results"][0]), body


def test_evaluate_fork_bomb_fails_alone(api):
    body = api.evaluate('''
        import os
        def f(x):
            if x == 0:
                while True:
                    try:
                        os.fork()
                    except OSError:
                        pass
            return x * 2
    ''', "f", [{"input": "0", "output": "0"}, {"input": "21", "output": "42"}])
    r = body["case_results"]
    assert r[0]["passed"] is False and r[0]["error"], body
    assert r[1]["passed"] is True and r[1]["got"] == 42, body


def test_evaluate_memory_bomb_fails_alone(api):
    body = api.evaluate('''
        def f(x):
            if x == 0:
                chunks = []
                while True:
                    b = bytearray(16 << 20)
                    b[::4096] = b"x" * len(b[::4096])
                    chunks.append(b)
            return x + 1
    ''', "f", [{"input": "0", "output": "1"}, {"input": "41", "output": "42"}])
    r = body["case_results"]
    assert r[0]["passed"] is False, body
    assert r[0]["error"].startswith(("MemoryError", "ProcessExit")), body
    assert r[1]["passed"] is True and r[1]["got"] == 42, body


def test_evaluate_cpu_burn_times_out(api, sec):
    body = api.evaluate('''
        def f(x):
            if x == 0:
                while True:
                    pass
            return x
    ''', "f", [{"input": "0", "output": "0"}, {"input": "5", "output": "5"}])
    r = body["case_results"]
    assert r[0]["passed"] is False and r[0]["error"].startswith("Timeout"), body
    assert r[1]["passed"] is True, body


def test_evaluate_kill_every_process_reaches_nothing(api):
    """kill(-1, SIGKILL) from the code reaches no other process: the only
    other process in the job's PID namespace is the runner, its PID 1, which
    no signal from inside can end, and the master (the zygote's judge) is
    outside it. Every case still gets its verdict, the later ones too."""
    body = api.evaluate('''
        import os
        def f(x):
            try:
                os.kill(-1, 9)
            except OSError as e:
                return [x, type(e).__name__]
            return [x, "sent"]
    ''', "f", [{"input": "1", "output": "[1, 'ProcessLookupError']"},
               {"input": "2", "output": "[2, 'ProcessLookupError']"}])
    assert body["passed"] is True, body
    assert [c["passed"] for c in body["case_results"]] == [True, True], body


def test_evaluate_a_case_never_meets_the_last_cases_process(api):
    """A case's process is forked while the last case's process may still be
    exiting, but runs none of the code until that one is reaped: no case
    reaches another case's process (pids in the job's namespace count up
    from the runner's 1), however long the last one takes to end (here
    120 MB to unmap, about 14 ms)."""
    body = api.evaluate("import os\n" + LIVE_PIDS + textwrap.dedent('''
        keep = []
        def f(x):
            if x % 2 == 0:
                keep.append(b"x" * (120 << 20))
                return []
            return live_pids(os.getpid())
    '''), "f", [{"input": str(i), "output": "[]"} for i in range(8)])
    assert [c["got"] for c in body["case_results"]] == [[]] * 8, body
    assert body["passed"] is True, body


def test_evaluate_a_case_meets_nothing_an_earlier_case_left_running(api):
    """A case can start processes that leave its process group and session
    (a double fork with setsid) and outlive it. They must be gone before the
    next case runs: no later case may find a process of an earlier one,
    signal it, or be signalled by it. Case 0 leaves such a process running
    (it writes /tmp/daemon once started, which the later cases see, so the
    test knows it ran); every later case looks for any other live pid."""
    body = api.evaluate("import os, time\n" + LIVE_PIDS + textwrap.dedent('''
        def f(x):
            if x == 0:
                if os.fork() == 0:
                    os.setsid()
                    if os.fork() == 0:
                        with open("/tmp/daemon", "w") as fh:
                            fh.write(str(os.getpid()))
                        while True:
                            time.sleep(1)
                    os._exit(0)
                while not os.path.exists("/tmp/daemon"):
                    time.sleep(0.01)
                return [True, []]
            return [os.path.exists("/tmp/daemon"), live_pids(400)]
    '''), "f", [{"input": str(i), "output": "[True, []]"} for i in range(4)])
    got = [c["got"] for c in body["case_results"]]
    assert got == [[True, []]] * 4, got


def test_evaluate_a_case_finds_no_other_cases_input_in_its_memory(api):
    """Every case's input passes through the runner, of which each later
    case's process is a copy: the runner must wipe a case's input (and
    report) before it forks the next case. Each case scans every writable
    mapping of its own process for any case's input (each ends with its
    tag, and the inputs get shorter, so that one written over another
    would leave the other's tag behind) and for its own, which shows the
    scan sees what is there. Each returns its input,
    so that the reports carry them too."""
    tag = secrets.token_hex(6)
    inputs = ["'%s%s-%d-z'" % ("y" * n, tag, i) for i, n in enumerate((3000, 500, 20, 21))]
    body = api.evaluate('''
        import ctypes, re
        TAG = %r
        def f(x):
            blobs = []
            with open("/proc/self/maps") as m:      # (/proc/self/mem: not dumpable)
                for line in m:
                    f = line.split()
                    lo, hi = (int(v, 16) for v in f[0].split("-"))
                    if "rw" in f[1] and hi - lo <= (64 << 20):
                        blobs.append(ctypes.string_at(lo, hi - lo))
            mine = x.split("-")[-2]
            found = set()
            for b in blobs:
                found.update(m.decode() for m in re.findall((TAG + "-([0-9])-z").encode(), b))
            return [mine, sorted(found), x]
    ''' % tag, "f", [{"input": s, "output": "None"} for s in inputs])
    got = [(c["got"] or [c["error"]])[:2] for c in body["case_results"]]
    assert got == [[str(i), [str(i)]] for i in range(4)], got

@pytest.mark.parametrize("forged, then", [
    ("b'not a report'", "return x"),                                    # malformed
    ("b'R' + (1 << 40).to_bytes(8, 'big')", "return x"),                # claims 1 TiB
    ("b'R' + (100).to_bytes(8, 'big') + b'{\"k\"'", "os._exit(3)"),     # cut short
    ("b'R' + (100).to_bytes(8, 'big')", "time.sleep(60)"),              # then hangs
])
def test_evaluate_a_case_that_forges_its_report_fails_alone(api, forged, then):
    """The runner reads each case's report from a pipe the case's code can
    write to as well. Whatever the code writes there first (not a report, a
    size over the limit, a report cut short by the process's end, or one
    that never ends) fails that case only, within its time limit, and the
    next case is run and judged as usual."""
    body = api.evaluate('''
        import os, time
        def f(x):
            if x == 0:
                for fd in range(3, 64):
                    try:
                        os.write(fd, %s)
                    except OSError:
                        pass
                %s
            return x
    ''' % (forged, then), "f", [{"input": "0", "output": "0"}, {"input": "1", "output": "1"}],
        limits={"time_s": 2})
    c = body["case_results"]
    assert c[0]["passed"] is False and c[0]["error"], body
    assert c[1]["passed"] is True and c[1]["got"] == 1 and c[1]["error"] is None, body


def test_evaluate_escapes_through_syscalls(api):
    body = api.evaluate('''
        import ctypes, errno, os
        def f(x):
            libc = ctypes.CDLL(None, use_errno=True)
            out = []
            for name, call in (("unshare", lambda: libc.unshare(0x10000000)),
                               ("mount", lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
                               ("ptrace", lambda: libc.ptrace(16, os.getppid(), None, None)),
                               ("chroot", lambda: libc.chroot(b"/tmp"))):
                rc = call()
                out.append("%s %d %s" % (name, rc, errno.errorcode.get(ctypes.get_errno())))
            out.append("uid %d" % os.getuid())
            return out
    ''', "f", [{"input": "1", "output": "[]"}])
    assert body["case_results"][0]["got"] == ["unshare -1 EPERM", "mount -1 EPERM",
                                              "ptrace -1 EPERM", "chroot -1 EPERM",
                                              "uid 1000"], body
