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
  - applies the job's rlimits and runs the harness.

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
import _socket
import select
import resource
import time
import ctypes
import fcntl
import marshal
import types

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_BIND, MS_REC, MS_SLAVE = 4096, 16384, 1 << 19
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP = 1, 4, 24
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
UID = 1000

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                       ctypes.c_ulong, ctypes.c_char_p]
libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong,
                       ctypes.c_ulong, ctypes.c_ulong]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


# socket.send_fds and recv_fds, without the socket and array modules: the
# enum classes of the one and the collections the other imports would make
# the zygote, and so every fork of it, about 1.2 MiB larger.

def send_fds(sock, buffers, fds):
    """One message, with fds (C ints) attached."""
    ints = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in fds)
    sock.sendmsg(buffers, [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, ints)])


def recv_fds(sock, bufsize, maxfds):
    """(message, [fds]) of one message."""
    msg, anc, _, _ = sock.recvmsg(bufsize, _socket.CMSG_LEN(maxfds * 4))
    fds = []
    for level, kind, data in anc:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds += [int.from_bytes(data[i:i + 4], sys.byteorder, signed=True)
                    for i in range(0, len(data) - len(data) % 4, 4)]
    return msg, fds


def check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


def mount(src, dst, fstype, flags, data):
    check(libc.mount(src and src.encode(), dst.encode(), fstype and fstype.encode(),
                     flags, data and data.encode()), "mount " + dst)


def write_file(path, text):
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
    except OSError as e:
        raise OSError(e.errno, "%s: %s" % (path, e.strerror))


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


def load_filter():
    with open("/run/evald/filter.bpf", "rb") as f:
        bpf = f.read()
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    return buf, SockFprog(len(bpf) // 8, ctypes.cast(buf, ctypes.c_void_p))


def enter_user_namespace():
    """Become root of a new user namespace that maps only UID (and GID)."""
    check(libc.unshare(CLONE_NEWUSER), "unshare(user)")
    # /proc/self of a non-dumpable process belongs to root: be dumpable
    # just long enough to write the maps.
    libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    write_file("/proc/self/setgroups", "deny")
    write_file("/proc/self/uid_map", "%d %d 1\n" % (UID, UID))
    write_file("/proc/self/gid_map", "%d %d 1\n" % (UID, UID))
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def job_process(harness, prog, tmpfs, psock, split):
    """PID 1 of the job's namespace, made before its job arrives: its own
    namespaces and mounts, locked down (no capability, no_new_privs, the
    seccomp filter); then, once the zygote hands it the job (limits and
    descriptors on psock), apply the job's limits and run the harness (or,
    split, the harness's runner half on fds 3 and 4). Never returns."""
    code = 0
    try:
        libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
        keep = psock.fileno()
        os.closerange(3, keep)
        os.closerange(keep + 1, 65536)
        check(libc.unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare(mount, ipc)")
        # Slave, not private: the work directory init mounts on
        # /run/evald/work when the job arrives must still reach /work.
        mount(None, "/", None, MS_REC | MS_SLAVE, None)
        opts = "size=%d,mode=1777" % tmpfs
        mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts)
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts)
        mount("/run/evald/work", "/work", None, MS_BIND | MS_REC, None)
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
        enter_user_namespace()
        # Locked down before the job arrives, since none of this depends on
        # the job: every capability gone, no_new_privs, the seccomp filter,
        # the sandbox's environment. Redis hands each job to the slot that
        # has waited longest, so with more than one slot this runs while
        # the others take the next jobs (0.5 ms off each job's path).
        for cap in range(64):
            if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                if ctypes.get_errno() == 22:
                    break       # past the last capability this kernel has
                check(-1, "PR_CAPBSET_DROP")
        hdr, data = CapHeader(0x20080522, 0), (CapData * 2)()
        check(libc.capset(ctypes.byref(hdr), data), "capset")
        check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog[1]), 0, 0),
              "seccomp")
        os.environ.clear()
        os.environ.update({"PATH": "/run/evald/bin:/usr/bin:/bin", "HOME": "/work",
                           "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp",
                           "USER": "sandbox"})
        first = first_case_process(harness, psock) if split else None
        msg, fds = recv_fds(psock, 4096, 8)
        if not msg:
            os._exit(0)         # the zygote went away, or discarded this one
        psock.close()
        limits = msg
        # out of the way first, so that no dup2 below lands on one still
        # needed: the job's descriptors become 0.., the first case's ends
        # follow them
        mine = list(fds) + (list(first[1:]) if first else [])
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in mine]
        for fd in mine:
            os.close(fd)
        for i, fd in enumerate(high):
            os.dup2(fd, i)
        os.closerange(len(high), 65536)
        if first:
            # the first case's process: the job's limits, then its stdin,
            # stdout and stderr, which let it go on
            apply_job_limits(limits, first[0])
            n = len(fds)
            js = _socket.socket(fileno=n)
            send_fds(js, [b"j"], [0, 1, 2])
            js.close()
            first = (first[0], n + 1, n + 2, n + 3)
        apply_job_limits(limits)
        os.chdir("/work")
        if split:
            code = harness.runner(3, 4, first)
        else:
            code = harness.main()
    except BaseException as e:
        try:
            os.write(2, ("evald: the job process failed: %r\n" % (e,)).encode())
        except OSError:
            pass
        code = 125
    os._exit(code or 0)


def apply_job_limits(msg, pid=0):
    """Set the job's rlimits, from the zygote's message, on this process
    or on pid (its first case's process, which runs nothing of the job's
    before it has them)."""
    _, cpu_s, as_bytes, nproc, fsize, nofile, stack, _ = [int(x) for x in msg.split()]
    for res, v in ((resource.RLIMIT_CPU, cpu_s), (resource.RLIMIT_AS, as_bytes),
                   (resource.RLIMIT_NPROC, nproc), (resource.RLIMIT_FSIZE, fsize),
                   (resource.RLIMIT_NOFILE, nofile), (resource.RLIMIT_STACK, stack),
                   (resource.RLIMIT_CORE, 0), (resource.RLIMIT_MEMLOCK, 0),
                   (resource.RLIMIT_MSGQUEUE, 0)):
        resource.prlimit(pid, res, (v, v))


def first_case_process(harness, psock):
    """Fork the job's first case process while no job waits for it (the
    job process is locked down and has run nothing of a job's). When the
    job comes, the job process sets the job's limits on it and sends it the
    job's stdin, stdout and stderr on a socket; then it waits for the setup
    and its spec, which the runner forwards on a pipe, and runs that one
    case (harness.first_case). Returns (pid, the socket, the read ends of
    its report and marker pipes, the write end of its spec pipe)."""
    js, cs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    rep_r, rep_w = os.pipe()
    mark_r, mark_w = os.pipe2(os.O_NONBLOCK)
    spec_r, spec_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 125
        try:
            psock.close()
            js.close()
            os.close(rep_r)
            os.close(mark_r)
            os.close(spec_w)
            msg, fds = recv_fds(cs, 16, 3)
            if not msg or len(fds) != 3:
                os._exit(0)     # no job: the job process ended first
            cs.close()
            for i, fd in enumerate(fds):
                if fd != i:
                    os.dup2(fd, i)
                    os.close(fd)
            os.chdir("/work")
            harness.first_case(spec_r, rep_w, mark_w)
        except BaseException as e:
            try:
                os.write(2, ("evald: the first case's process failed: %r\n" % (e,)).encode())
            except OSError:
                pass
        os._exit(code)
    cs.close()
    os.close(rep_w)
    os.close(mark_w)
    os.close(spec_r)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    return pid, js.detach(), rep_r, mark_r, spec_w


def prepare(harness, prog, tmpfs, own_pidns, split):
    """Fork the next job process into a new PID namespace, where it makes
    its namespaces and mounts while no job waits for it. Returns (pid, the
    socket its job will come on)."""
    zs, ps = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    check(libc.unshare(CLONE_NEWPID), "unshare(pid)")
    try:
        pid = os.fork()
        if pid == 0:
            zs.close()
            job_process(harness, prog, tmpfs, ps, split)
    finally:
        # the next child is the zygote's own again
        check(libc.setns(own_pidns, CLONE_NEWPID), "setns(pid)")
    ps.close()
    return pid, zs


def run_job(ready, limits, fds, judge_sock, devnull):
    """Hand the job to the prepared job process, hold its wall clock, report
    how it ended on fds[4]. Closes fds. Ends the zygote when it cannot."""
    pid, psock = ready
    wall_ms = limits[0]
    report = fds[4]
    job_fds = list(fds[:4])
    mine = list(fds)
    try:
        if judge_sock is not None:
            # The judge reads the request and writes the answer; the job
            # process gets the code and the inputs from it, case by case.
            ctrl_r, ctrl_w = os.pipe()
            rep_r, rep_w = os.pipe()
            mine += [ctrl_r, ctrl_w, rep_r, rep_w]
            send_fds(judge_sock, [b"j"], [fds[0], fds[3], ctrl_w, rep_r])
            job_fds = [devnull, fds[1], fds[2], ctrl_r, rep_w]
        t0 = time.monotonic()
        send_fds(psock, [b" ".join(b"%d" % v for v in limits)], job_fds)
        psock.close()
    except BaseException as e:
        # The zygote cannot run jobs (its judge or the prepared job process
        # is gone): say why and end, so that the executor builds a new one.
        try:
            os.write(report, ("E %r\n" % (e,)).encode())
        except OSError:
            pass
        os._exit(1)
    for fd in mine:
        if fd != report:
            os.close(fd)
    pidfd = os.pidfd_open(pid)
    timed_out = 0
    if not select.select([pidfd], [], [], wall_ms / 1000.0)[0]:
        timed_out = 1
        os.kill(pid, 9)
    os.close(pidfd)
    _, status, ru = os.wait4(pid, 0)
    wall = int((time.monotonic() - t0) * 1000)
    cpu = int((ru.ru_utime + ru.ru_stime) * 1000)
    try:
        os.write(report, b"%d %d %d %d %d\n" % (status, timed_out, wall, cpu, ru.ru_maxrss))
    except OSError:
        pass
    os.close(report)


def judge_main(harness, sock):
    """The judge: one evaluation after another, as the zygote hands them
    over (stdin, the result pipe, and the runner's two pipes). Never
    returns."""
    code = 0
    try:
        libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
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


def main():
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    harness = load_harness()
    warm = getattr(harness, "warm", None)
    if warm is not None:
        warm()
    prog = load_filter()
    devnull = os.open("/dev/null", os.O_RDWR)
    # A user namespace of the zygote's own and a PID namespace it is the
    # init of: this process stays behind and waits.
    enter_user_namespace()
    check(libc.unshare(CLONE_NEWPID), "unshare(pid)")
    pid = os.fork()
    if pid != 0:
        os.closerange(0, 65536)
        _, status = os.waitpid(pid, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xff)
    libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY)
    # what exists now is never collected, so no job's collector touches
    # (and copies) the zygote's pages
    import gc
    gc.collect()
    gc.freeze()
    sock = _socket.socket(fileno=3)
    judge_sock = None
    split = getattr(harness, "judge", None) is not None
    if split:
        zs, js = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        if os.fork() == 0:
            sock.close()
            zs.close()
            os.close(devnull)
            os.close(own_pidns)
            judge_main(harness, js)
        js.close()
        judge_sock = zs
    ready = None
    while True:
        try:
            msg, fds = recv_fds(sock, 4096, 5)
        except OSError:
            return 0
        if not msg:
            return 0
        try:
            if msg.startswith(b"p"):
                # "p tmpfs_bytes": the last job's work directory is gone;
                # make the next job process now, before its job arrives
                for fd in fds:
                    os.close(fd)
                if ready is None:
                    ready = prepare(harness, prog, int(msg.split()[1]), own_pidns, split)
                continue
            if len(fds) != 5:
                for fd in fds:
                    os.close(fd)
                continue
            limits = [int(x) for x in msg.split()]
            if ready is None:
                ready = prepare(harness, prog, limits[7], own_pidns, split)
        except BaseException as e:
            try:
                os.write(2, ("evald: the zygote failed: %r\n" % (e,)).encode())
            except OSError:
                pass
            return 1
        run_job(ready, limits, fds, judge_sock, devnull)
        ready = None


if __name__ == "__main__":
    sys.exit(main())
