"""evald zygote: a warm Python that forks one fresh sandbox per job.

The executor's sandbox init starts this once per slot, as the unprivileged
sandbox user, with a harness already loaded (the evaluation harness, or the
grading harness in a grading zygote), and hands it jobs over fd 3 (a unix
socket). It never runs submitted code itself.

At start it makes a user namespace of its own (nested in the slot's:
unprivileged, it gives power over nothing but itself) and a PID namespace
it is the init of (the process that made them stays behind and only waits).
Holding CAP_SYS_ADMIN over its own PID namespace lets it make a new PID
namespace for each job and step back out of it, so a job process is forked
straight from the warm zygote, with nothing in between. The job process

  - is PID 1 of its own PID namespace,
  - enters new mount and IPC namespaces, mounts a fresh /tmp, /dev/shm and
    /proc (hidepid=2) and binds the job's work directory (written by init)
    onto /work, then enters a user namespace of its own, so it holds no
    capability over those mounts or anything of the zygote's,
  - drops every capability, sets no_new_privs and loads the seccomp filter
    the executor compiled, all before its job arrives,
  - with the evaluation harness, forks the process of the job's first case
    then too (it waits, holding nothing of a job's, until the job process
    has set the job's limits on it and sent it the job's descriptors, and
    then for its case),
  - and when the job comes, applies the job's rlimits and runs the harness:
    with the evaluation harness, the job process is the runner, which
    forwards the first case its code and input and forks one process per
    further case.

The zygote's loop, everything the job process does before its job and the
evaluation harness's runner are C: the _zygote module (zygote.c), which the
executor writes next to this file; Python runs again only in the case
processes (and in a grading job process once its job has come). Each fork
copies, on its first write, every page a process touches afterwards; in
Python that loop and lock-down touched about 200 pages in the zygote and 430
in each job process per job, in C a few dozen.

The zygote holds the job's wall-clock limit (killing PID 1 ends the job's
namespace) and reports how the job process ended to init: "wstatus
timed_out wall_ms cpu_ms maxrss_kb".

With the evaluation harness, the harness's master half runs in the judge:
one process per zygote, forked before any job arrived, that never runs
submitted code and from which no process that does descends. It reads each
request, literal-evaluates the expected outputs, compiles the code, sends
the runner (the job process) the code and each case's input over a pipe,
judges the reports and writes the answer. The job process holds no
expected value; its case processes are forked from it.

Messages on fd 3: one line "wall_ms cpu_s as_bytes nproc fsize nofile stack
tmpfs_bytes" with five descriptors attached: stdin, stdout, stderr, the
result pipe (fd 3 of the harness) and the report pipe.
"""

import os
import sys
import _imp
import _socket
import gc
import marshal
import types

CLONE_NEWPID = 0x20000000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4


def load_harness():
    """The harness module, from the .pyc the executor compiled (or source):
    the grading harness in a grading zygote, else the evaluation harness."""
    mod = types.ModuleType("evald_harness")
    for name in ("grade", "evaluate"):
        path = "/run/evald/%s.pyc" % name
        if os.path.exists(path):
            with open(path, "rb") as f:
                code = marshal.loads(f.read()[16:])
            break
    else:
        path = "/run/evald/evaluate.py"
        with open(path, "rb") as f:
            code = compile(f.read(), path, "exec")
    mod.__file__ = path
    exec(code, mod.__dict__)
    return mod


def load_zygote_module():
    """_zygote, the C half of the zygote, which the executor wrote next to
    this file."""
    spec = types.SimpleNamespace(name="_zygote", origin="/run/evald/_zygote.so")
    return _imp.create_dynamic(spec)


def child_failed(who, e):
    try:
        os.write(2, ("evald: %s failed: %r\n" % (who, e)).encode())
    except OSError:
        pass
    os._exit(125)


def judge_main(harness, sock):
    """The judge: one evaluation after another, as the zygote hands them
    over (stdin, the result pipe, and the runner's two pipes). Never
    returns."""
    code = 0
    try:
        while True:
            msg, fds = recv_fds(sock, 16, 4)
            if not msg:
                break
            if len(fds) != 4:
                for fd in fds:
                    os.close(fd)
                continue
            harness.judge(*fds)
    except BaseException as e:
        try:
            os.write(2, ("evald: the judge failed: %r\n" % (e,)).encode())
        except OSError:
            pass
        code = 1
    os._exit(code)


def recv_fds(sock, bufsize, maxfds):
    """(message, [fds]) of one message (socket.recv_fds without the socket
    and array modules, which would make the zygote about 1.2 MiB larger)."""
    msg, anc, _, _ = sock.recvmsg(bufsize, _socket.CMSG_LEN(maxfds * 4))
    fds = []
    for level, kind, data in anc:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds += [int.from_bytes(data[i:i + 4], sys.byteorder, signed=True)
                    for i in range(0, len(data) - len(data) % 4, 4)]
    return msg, fds


def refuse(why):
    """Without the C module there is no zygote: answer the first job with
    why (init passes it on to the executor's log, and the executor runs
    the job in a one-shot sandbox). Returns the exit status."""
    sock = _socket.socket(fileno=3)
    while True:
        msg, fds = recv_fds(sock, 4096, 5)
        if not msg:
            return 1
        if msg.startswith(b"p") or len(fds) != 5:
            for fd in fds:
                os.close(fd)
            continue
        try:
            os.write(fds[4], ("E %s\n" % why).encode())
        except OSError:
            pass
        return 1


def main():
    try:
        z = load_zygote_module()
    except Exception as e:
        return refuse("cannot load /run/evald/_zygote.so (built for another Python?): %r" % (e,))
    z.prctl(PR_SET_DUMPABLE, 0)
    z.prctl(PR_SET_PDEATHSIG, 9)
    harness = load_harness()
    warm = getattr(harness, "warm", None)
    if warm is not None:
        warm()
    with open("/run/evald/filter.bpf", "rb") as f:
        prog = f.read()
    # Every process forked from here then shares the interpreter's code on
    # huge pages instead of faulting it in again (zygote.c).
    z.huge_text()
    devnull = os.open("/dev/null", os.O_RDWR)
    # The sandbox's environment, for every job process forked from here.
    os.environ.clear()
    os.environ.update({"PATH": "/run/evald/bin:/usr/bin:/bin", "HOME": "/work",
                       "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp",
                       "USER": "sandbox"})
    # A user namespace of the zygote's own and a PID namespace it is the
    # init of: this process stays behind and waits.
    z.user_namespace()
    z.unshare(CLONE_NEWPID)
    pid = os.fork()
    if pid != 0:
        os.closerange(0, 65536)
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xff)
    z.prctl(PR_SET_PDEATHSIG, 9)
    own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY)
    # what exists now is never collected, so no job's collector touches
    # (and copies) the zygote's pages
    gc.collect()
    gc.freeze()
    judge = -1
    split = getattr(harness, "judge", None) is not None
    if split:
        zs, js = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        if os.fork() == 0:
            try:
                z.prctl(PR_SET_PDEATHSIG, 9)
                os.close(3)
                zs.close()
                os.close(devnull)
                os.close(own_pidns)
            except BaseException as e:
                child_failed("the judge", e)
            judge_main(harness, js)
        js.close()
        judge = zs.fileno()
    try:
        role = z.serve(3, judge, devnull, own_pidns, prog, split)
    except BaseException as e:
        try:
            os.write(2, ("evald: the zygote failed: %r\n" % (e,)).encode())
        except OSError:
            pass
        return 1
    if role is None:
        return 0
    # A process serve() forked: a grading job process, locked down, before
    # its job (z.job waits for it); an evaluation's first case's process,
    # its descriptors come; or a later case's process, forked by the job
    # process (the runner, which is C and never returns here).
    kind, arg = role
    code = 0
    try:
        if kind == "case":
            harness.first_case(*arg)
            code = 125      # it never returns
        elif kind == "later":
            harness.later_case(*arg)
            code = 125      # it never returns
        else:
            z.job()
            code = harness.main()
    except BaseException as e:
        who = {"case": "first case's", "later": "case's"}.get(kind, "job")
        child_failed("the %s process" % who, e)
    os._exit(code or 0)


if __name__ == "__main__":
    sys.exit(main())
