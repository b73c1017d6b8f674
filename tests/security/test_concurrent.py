"""Two jobs at once: one (the holder) plants a secret everywhere a job can
(its /work, /tmp, /dev/shm, an abstract unix socket, SysV shared memory and
a message queue, its own command line) and stays alive; the other (the
prober), started while the holder runs, looks for all of it. Each job's
namespaces are its own, so the prober finds nothing, while the holder's own
checks prove every channel worked for the holder.

Both jobs print CLOCK_REALTIME stamps; the test asserts they overlapped.
"""

import secrets
import threading
import time

import pytest

HOLDER = r'''
import ctypes, errno, os, socket, sys, time
tag, secret = sys.stdin.read().split()
t0 = time.time()
libc = ctypes.CDLL(None, use_errno=True)
key = int(tag[:6], 16)
# files
for d in ("/work", "/tmp", "/dev/shm"):
    with open("%s/%s" % (d, tag), "w") as f:
        f.write(secret)
    os.chmod("%s/%s" % (d, tag), 0o666)
# an abstract unix socket, listening
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind("\0evald-holder-" + tag)
srv.listen(8)
srv.setblocking(False)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect("\0evald-holder-" + tag)                 # control: the channel works here
own, _ = srv.accept()
own.close(); c.close()
print("self-connect ok")
# SysV shared memory and a message queue under a known key
libc.shmat.restype = ctypes.c_void_p
shmid = libc.shmget(key, 4096, 0o1666)              # IPC_CREAT | 0666
addr = libc.shmat(shmid, None, 0)
ctypes.memmove(addr, secret.encode(), len(secret))
msqid = libc.msgget(key + 1, 0o1666)
print("sysv", shmid >= 0, msqid >= 0, libc.shmget(key, 0, 0) == shmid)
sys.stdout.flush()
time.sleep(float(sys.argv[2]))
accepted = 0
while True:
    try:
        srv.accept()[0].close()
        accepted += 1
    except BlockingIOError:
        break
print("accepted", accepted)
for d in ("/work", "/tmp", "/dev/shm"):
    with open("%s/%s" % (d, tag)) as f:
        print("still", d, f.read() == secret)
print("T", t0, time.time())
'''

PROBER = r'''
import ctypes, errno, os, socket, sys, time
t0 = time.time()
tag, secret, marker = sys.stdin.read().split()
libc = ctypes.CDLL(None, use_errno=True)
def err():
    return errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno())
key = int(tag[:6], 16)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect("\0evald-holder-" + tag)
    print("abstract CONNECTED")
except OSError as e:
    print("abstract", errno.errorcode.get(e.errno))
for d in ("/work", "/tmp", "/dev/shm"):
    try:
        print(d, "READ", open("%s/%s" % (d, tag)).read())
    except OSError as e:
        print(d, errno.errorcode.get(e.errno))
r = libc.shmget(key, 0, 0)
print("shmget", r, err() if r < 0 else "FOUND")
r = libc.msgget(key + 1, 0)
print("msgget", r, err() if r < 0 else "FOUND")
# every file a job can write, every process it can see
hits = []
for top in ("/work", "/tmp", "/dev/shm", "/run", "/etc"):
    for dp, dns, fns in os.walk(top):
        for fn in fns + dns:
            p = os.path.join(dp, fn)
            if tag in fn:
                hits.append("name " + p)
            try:
                if os.path.isfile(p) and not os.path.islink(p):
                    with open(p, "rb") as f:
                        if secret.encode() in f.read(16 << 20):
                            hits.append("content " + p)
            except OSError:
                pass
me = str(os.getpid())
for pid in os.listdir("/proc"):
    if pid.isdigit():
        for what in ("cmdline", "environ"):
            try:
                data = open("/proc/%s/%s" % (pid, what), "rb").read()
            except OSError:
                continue
            if marker.encode() in data or secret.encode() in data:
                hits.append("proc %s %s" % (pid, what))
print("hits", hits)
print("pids", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
print("T", t0, time.time())
'''


@pytest.mark.parametrize("same_session", [False, True], ids=["two-sessions", "one-session"])
def test_concurrent_jobs_share_nothing(api, sec, same_session):
    tag = secrets.token_hex(8)
    secret = "HOLDER-SECRET-" + secrets.token_hex(8)
    marker = "holder-" + tag
    holder = api.new_session({"holder.py": HOLDER})
    prober = holder if same_session else api.new_session()
    api.write(prober, "prober.py", PROBER)
    out = [None, None]
    errors = []

    # stdin carries the secrets: never in a command line the other could read
    def run(i, sid, cmd, stdin, timeout, delay):
        try:
            time.sleep(delay)
            out[i] = api.run(sid, cmd, stdin=stdin, timeout=timeout)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [
        threading.Thread(target=run, args=(0, holder, "python3 holder.py %s 5" % marker,
                                           "%s %s" % (tag, secret), 20, 0.0)),
        threading.Thread(target=run, args=(1, prober, "python3 prober.py",
                                           "%s %s %s" % (tag, secret, marker), 20, 1.5)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    hbody, pbody = out
    assert hbody["status"] == "ok", hbody
    assert pbody["status"] == "ok", pbody
    h, p = hbody["stdout"], pbody["stdout"]
    # the holder's channels all worked, for the holder
    assert "self-connect ok\nsysv True True True\n" in h, h
    assert "accepted 0\n" in h, h
    assert h.count(" True\n") >= 3 + 1 and "still /dev/shm True" in h, h
    # they ran at the same time
    ht = [float(x) for x in h.split("T ", 1)[1].split()]
    pt = [float(x) for x in p.split("T ", 1)[1].split()]
    assert ht[0] < pt[0] and pt[1] < ht[1], ("the jobs did not overlap", ht, pt)
    # the prober found nothing of the holder
    assert "abstract ECONNREFUSED\n" in p, p
    for d in ("/work", "/tmp", "/dev/shm"):
        assert "%s ENOENT\n" % d in p, p
    assert "shmget -1 ENOENT" in p and "msgget -1 ENOENT" in p, p
    assert "hits []\n" in p, p
    assert secret not in p and "READ" not in p and "FOUND" not in p and "CONNECTED" not in p, p


def test_concurrent_job_cannot_signal_the_other(api, sec):
    """The attacker sends SIGKILL to every pid it can name (1..65535 but its
    own and its parent's) while a victim counts to 30 over 3 s: the victim
    finishes untouched, and the attacker reached nothing."""
    victim, attacker = api.new_session(), api.new_session()
    api.write(attacker, "killall.py", (
        "import errno, os\n"
        "me = {os.getpid(), os.getppid()}\n"
        "hit, denied = [], []\n"
        "for p in range(1, 65536):\n"
        "    if p in me:\n"
        "        continue\n"
        "    try:\n"
        "        os.kill(p, 9)\n"
        "        hit.append(p)\n"
        "    except ProcessLookupError:\n"
        "        pass\n"
        "    except PermissionError:\n"
        "        denied.append(p)\n"
        "print('hit', hit, 'denied', denied)\n"))
    vbody, abody = sec.run_together(api, [
        (victim, "i=0; while [ $i -lt 30 ]; do i=$((i+1)); sleep 0.1; done; echo counted $i", 20),
        (attacker, "python3 killall.py", 30),
    ], stagger=0.5)
    assert vbody["status"] == "ok" and vbody["stdout"] == "counted 30\n", vbody
    assert abody["status"] == "ok", abody
    # only the sandbox's own init exists besides the attacker, and it is not
    # the attacker's to signal
    assert abody["stdout"] == "hit [] denied [1]\n", abody


def test_nothing_survives_into_the_next_job(api, sec):
    """What a job leaves outside /work (in /tmp, /dev/shm, SysV IPC, an
    abstract socket, a process) is gone for the next job, in the same
    session and in another one, whichever slot runs it."""
    tag = secrets.token_hex(8)
    first = api.new_session()
    body = api.run_py(first, r'''
        import ctypes, os, socket, subprocess, sys
        tag = sys.argv[1]
        libc = ctypes.CDLL(None, use_errno=True)
        for d in ("/tmp", "/dev/shm"):
            open("%s/%s" % (d, tag), "w").write("left")
        print("shm", libc.shmget(int(tag[:6], 16), 4096, 0o1666) >= 0)
        s = socket.socket(socket.AF_UNIX)
        s.bind("\0left-" + tag)
        s.listen(1)
        subprocess.Popen(["setsid", "sleep", "60"], start_new_session=True)
        print("left")
    ''', args=tag)
    assert body["stdout"] == "shm True\nleft\n", body
    probe = r'''
        import ctypes, errno, os, socket, sys
        tag = sys.argv[1]
        libc = ctypes.CDLL(None, use_errno=True)
        print([os.path.exists("%s/%s" % (d, tag)) for d in ("/tmp", "/dev/shm")])
        print("shm", libc.shmget(int(tag[:6], 16), 0, 0))
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect("\0left-" + tag)
            print("CONNECTED")
        except OSError as e:
            print(errno.errorcode.get(e.errno))
        print(sorted(open("/proc/%s/comm" % p).read().strip()
                     for p in os.listdir("/proc") if p.isdigit()))
    '''
    # several times: the four slots of the stack each get a turn
    for sid in [first] * 3 + [api.new_session() for _ in range(3)]:
        body = api.run_py(sid, probe, args=tag)
        assert body["stdout"] == ("[False, False]\nshm -1\nECONNREFUSED\n"
                                  "['python3', 'sh']\n"), body


def test_nothing_survives_into_the_next_evaluation(api, sec):
    """The same through the evaluation zygotes, whose job processes are made
    before their jobs arrive: what an evaluation leaves (in /work, /tmp,
    /dev/shm, SysV IPC, an abstract socket, a process) is gone for the next
    evaluation of every slot, and a case's /proc shows only itself (its
    runner, PID 1, is non-dumpable, so hidepid=2 hides it)."""
    tag = secrets.token_hex(8)
    leave = '''
        import ctypes, os, socket, subprocess
        TAG = %r
        def f(x):
            libc = ctypes.CDLL(None, use_errno=True)
            for d in ("/work", "/tmp", "/dev/shm"):
                open("%%s/%%s" %% (d, TAG), "w").write("left")
            shm = libc.shmget(int(TAG[:6], 16), 4096, 0o1666) >= 0
            s = socket.socket(socket.AF_UNIX)
            s.bind("\\0left-" + TAG)
            s.listen(1)
            subprocess.Popen(["sleep", "60"], start_new_session=True)
            return [x, shm]
    ''' % tag
    probe = '''
        import ctypes, errno, os, socket
        TAG = %r
        def f(x):
            libc = ctypes.CDLL(None, use_errno=True)
            out = [os.path.exists("%%s/%%s" %% (d, TAG)) for d in ("/work", "/tmp", "/dev/shm")]
            out.append(libc.shmget(int(TAG[:6], 16), 0, 0))
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect("\\0left-" + TAG)
                out.append("CONNECTED")
            except OSError as e:
                out.append(errno.errorcode.get(e.errno))
            out.append(sorted(open("/proc/%%s/comm" %% p).read().strip()
                              for p in os.listdir("/proc") if p.isdigit()))
            return out
    ''' % tag
    first = api.new_session()
    for _ in range(4):      # every slot of the stack leaves something behind
        body = api.evaluate(leave, "f", [{"input": "1", "output": "[1, True]"}], sid=first)
        assert body["passed"] is True, body
    want = "[False, False, False, -1, 'ECONNREFUSED', ['python3']]"
    for sid in [first] * 4 + [api.new_session() for _ in range(4)]:
        body = api.evaluate(probe, "f", [{"input": "0", "output": want}], sid=sid)
        assert body["passed"] is True, body


PROBE_C = r"""
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
int main(int argc, char **argv) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "late-%s", argv[1]);
    socklen_t n = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1);
    puts(connect(fd, (struct sockaddr *)&a, n) == 0 ? "CONNECTED"
         : errno == ECONNREFUSED ? "ECONNREFUSED" : strerror(errno));
    return 0;
}
"""


def test_an_answered_evaluation_is_over_before_the_next_job(api, sec):
    """An evaluation's answer is published before its processes have ended;
    the slot still waits for that end before it starts any job, of any kind.
    A background process an evaluation leaves listening on an abstract
    socket (a slot's sandboxes share one network namespace), holding memory
    that takes the kernel a while to free, is gone for a /run that the same
    slot starts at once (the other slots are kept busy, and the probe is a
    compiled program, so it connects within a millisecond or two)."""
    tag = secrets.token_hex(8)
    leave = '''
        import socket, os, time
        TAG = %r
        def f(x):
            if os.fork() == 0:
                os.setsid()
                keep = b"x" * (150 << 20)
                s = socket.socket(socket.AF_UNIX)
                s.bind("\\0late-" + TAG)
                s.listen(8)
                while True:
                    s.accept()[0].close()
            time.sleep(0.3)
            return x
    ''' % tag
    sid = api.new_session({"probe.c": PROBE_C})
    built = api.run(sid, "gcc -O1 -o probe probe.c && ./probe none", timeout=60)
    assert built["stdout"] == "ECONNREFUSED\n", built
    slots = api.st.n_executors * int(api.st.overrides["executor_slots"])
    for _ in range(3):
        # every slot but one busy, so the probe runs where the evaluation did
        busy = [threading.Thread(target=api.run, args=(api.new_session(), "sleep 3"))
                for _ in range(slots - 1)]
        for t in busy:
            t.start()
        time.sleep(1.0)
        body = api.evaluate(leave, "f", [{"input": "1", "output": "1"}])
        assert body["passed"] is True, body
        got = api.run(sid, "./probe " + tag)
        assert got["stdout"] == "ECONNREFUSED\n", got
        for t in busy:
            t.join()
