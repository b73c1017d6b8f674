"""evald evaluation zygote: a warm Python that forks one fresh sandbox per job.

The executor's sandbox init starts this once per slot, as the unprivileged
sandbox user, with the evaluation harness already loaded, and hands it jobs
over fd 3 (a unix socket). It never runs submitted code itself. For each job
it forks a supervisor, which

  - enters new user, mount, PID and IPC namespaces (nested in the slot's:
    unprivileged, so they give power over nothing but themselves),
  - mounts a fresh /tmp and /dev/shm and binds the job's work directory
    (written by init) onto /work,
  - forks the job process, PID 1 of the new PID namespace, which mounts its
    own /proc, applies the job's rlimits, drops every capability, sets
    no_new_privs, loads the seccomp filter the executor compiled, and runs the
    harness on the request it reads from stdin,
  - kills the job's PID namespace at the wall-clock limit, and reports how
    the job process ended to init: "wstatus timed_out wall_ms cpu_ms
    maxrss_kb".

Messages on fd 3: one line "wall_ms cpu_s as_bytes nproc fsize nofile stack
tmpfs_bytes" with five descriptors attached: stdin, stdout, stderr, the
result pipe (fd 3 of the harness) and the report pipe.
"""

import os
import sys
import socket
import select
import resource
import time
import ctypes
import marshal
import types

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP = 1, 4, 24
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
UID = 1000

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                       ctypes.c_ulong, ctypes.c_char_p]
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong,
                       ctypes.c_ulong, ctypes.c_ulong]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


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


def job_process(harness, prog, limits, fds):
    """PID 1 of the job's namespace: lock itself down, then run the
    harness. Never returns."""
    code = 0
    try:
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
        for i, fd in enumerate(fds[:4]):
            os.dup2(fd, i)
        os.closerange(4, 65536)
        _, cpu_s, as_bytes, nproc, fsize, nofile, stack, _ = limits
        for res, v in ((resource.RLIMIT_CPU, cpu_s), (resource.RLIMIT_AS, as_bytes),
                       (resource.RLIMIT_NPROC, nproc), (resource.RLIMIT_FSIZE, fsize),
                       (resource.RLIMIT_NOFILE, nofile), (resource.RLIMIT_STACK, stack),
                       (resource.RLIMIT_CORE, 0), (resource.RLIMIT_MEMLOCK, 0),
                       (resource.RLIMIT_MSGQUEUE, 0)):
            resource.setrlimit(res, (v, v))
        for cap in range(64):
            if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:
                check(-1, "PR_CAPBSET_DROP")
        hdr, data = CapHeader(0x20080522, 0), (CapData * 2)()
        check(libc.capset(ctypes.byref(hdr), data), "capset")
        check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog[1]), 0, 0),
              "seccomp")
        os.chdir("/work")
        os.environ.clear()
        os.environ.update({"PATH": "/run/evald/bin:/usr/bin:/bin", "HOME": "/work",
                           "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp",
                           "USER": "sandbox"})
        code = harness.main()
    except BaseException as e:
        try:
            os.write(2, ("evald: the job process failed: %r\n" % (e,)).encode())
        except OSError:
            pass
        code = 125
    os._exit(code or 0)


def supervise(harness, prog, limits, fds):
    """The job's supervisor: namespaces, mounts, the job process, the wall
    clock, the report. Never returns."""
    report = fds[4]
    try:
        wall_ms, tmpfs = limits[0], limits[7]
        check(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC),
              "unshare")
        # /proc/self of a non-dumpable process belongs to root: be
        # dumpable just long enough to write the maps.
        libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        write_file("/proc/self/setgroups", "deny")
        write_file("/proc/self/uid_map", "%d %d 1\n" % (UID, UID))
        write_file("/proc/self/gid_map", "%d %d 1\n" % (UID, UID))
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        mount(None, "/", None, MS_REC | MS_PRIVATE, None)
        opts = "size=%d,mode=1777" % tmpfs
        mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts)
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts)
        mount("/run/evald/work", "/work", None, MS_BIND | MS_REC, None)
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:
            job_process(harness, prog, limits, fds)
        for fd in fds[:4]:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        timed_out = 0
        if not select.select([pidfd], [], [], wall_ms / 1000.0)[0]:
            timed_out = 1
            os.kill(pid, 9)
        _, status, ru = os.wait4(pid, 0)
        wall = int((time.monotonic() - t0) * 1000)
        cpu = int((ru.ru_utime + ru.ru_stime) * 1000)
        os.write(report, b"%d %d %d %d %d\n" % (status, timed_out, wall, cpu, ru.ru_maxrss))
        os._exit(0)
    except BaseException as e:
        try:
            os.write(report, ("E %r\n" % (e,)).encode())
        except OSError:
            pass
        os._exit(1)


def main():
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    harness = load_harness()
    warm = getattr(harness, "warm", None)
    if warm is not None:
        warm()
    # what exists now is never collected, so no job's collector touches
    # (and copies) the zygote's pages
    import gc
    gc.collect()
    gc.freeze()
    prog = load_filter()
    sock = socket.socket(fileno=3)
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 4096, 5)
        except OSError:
            return 0
        if not msg:
            return 0
        if len(fds) != 5:
            for fd in fds:
                os.close(fd)
            continue
        limits = [int(x) for x in msg.split()]
        pid = os.fork()
        if pid == 0:
            sock.close()
            supervise(harness, prog, limits, fds)
        for fd in fds:
            os.close(fd)
        os.waitpid(pid, 0)


if __name__ == "__main__":
    sys.exit(main())
