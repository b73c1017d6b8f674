"""Attacks on the kernel interface: the seccomp filter, capabilities,
ids, setuid binaries, ptrace, namespaces from inside.

Each syscall is made raw through ctypes (no libc wrapper to second-guess),
with arguments that would do something real if the call were allowed, and
the job prints the return value and errno.
"""

import platform

import pytest

# x86_64 and aarch64 numbers of the calls the filter must refuse.
NR = {
    "x86_64": {
        "ptrace": 101, "unshare": 272, "mount": 165, "umount2": 166, "setns": 308,
        "chroot": 161, "pivot_root": 155, "keyctl": 250, "add_key": 248, "request_key": 249,
        "bpf": 321, "perf_event_open": 298, "io_uring_setup": 425, "userfaultfd": 323,
        "personality": 135, "reboot": 169, "kexec_load": 246, "init_module": 175,
        "finit_module": 313, "delete_module": 176, "swapon": 167, "open_by_handle_at": 304,
        "process_vm_readv": 310, "clone3": 435, "clone": 56, "fsopen": 430, "open_tree": 428,
        "move_mount": 429, "sethostname": 170, "syslog": 103, "kcmp": 312, "pidfd_getfd": 438,
        "ioctl": 16,
    },
    "aarch64": {
        "ptrace": 117, "unshare": 97, "mount": 40, "umount2": 39, "setns": 268,
        "chroot": 51, "pivot_root": 41, "keyctl": 219, "add_key": 217, "request_key": 218,
        "bpf": 280, "perf_event_open": 241, "io_uring_setup": 425, "userfaultfd": 282,
        "personality": 92, "reboot": 142, "kexec_load": 104, "init_module": 105,
        "finit_module": 273, "delete_module": 106, "swapon": 224, "open_by_handle_at": 265,
        "process_vm_readv": 270, "clone3": 435, "clone": 220, "fsopen": 430, "open_tree": 428,
        "move_mount": 429, "sethostname": 161, "syslog": 116, "kcmp": 272, "pidfd_getfd": 438,
        "ioctl": 29,
    },
}[platform.machine()]

CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000, 0x20000000, 0x40000000
SIGCHLD = 17

# name -> (syscall, args, expected errno). Arguments are real requests:
# b"..." is passed as a C string, ints as longs.
ATTACKS = {
    "ptrace_traceme": ("ptrace", [0, 0, 0, 0], "EPERM"),                 # PTRACE_TRACEME
    "ptrace_attach_parent": ("ptrace", [16, "PPID", 0, 0], "EPERM"),     # PTRACE_ATTACH
    "unshare_user": ("unshare", [CLONE_NEWUSER], "EPERM"),
    "unshare_mount": ("unshare", [CLONE_NEWNS], "EPERM"),
    "unshare_net": ("unshare", [CLONE_NEWNET], "EPERM"),
    "mount_tmpfs": ("mount", [b"none", b"/tmp", b"tmpfs", 0, 0], "EPERM"),
    "mount_proc": ("mount", [b"proc", b"/tmp", b"proc", 0, 0], "EPERM"),
    "remount_root_rw": ("mount", [0, b"/", 0, 0x20 | 0x1000, 0], "EPERM"),  # MS_REMOUNT|MS_BIND
    "umount_proc": ("umount2", [b"/proc", 2], "EPERM"),                   # MNT_DETACH
    "setns_own_net": ("setns", ["FD:/proc/self/ns/net", 0], "EPERM"),
    "chroot": ("chroot", [b"/tmp"], "EPERM"),
    "pivot_root": ("pivot_root", [b"/tmp", b"/tmp"], "EPERM"),
    "keyctl_join_session": ("keyctl", [1, 0, 0, 0, 0], "EPERM"),        # KEYCTL_JOIN_SESSION_KEYRING
    "add_key": ("add_key", [b"user", b"evald", b"x", 1, -3], "EPERM"),
    "request_key": ("request_key", [b"user", b"evald", 0, -3], "EPERM"),
    "bpf_map_create": ("bpf", [0, "ZEROS:128", 128], "EPERM"),          # BPF_MAP_CREATE
    "perf_event_open": ("perf_event_open", ["ZEROS:128", 0, -1, -1, 0], "EPERM"),
    "io_uring_setup": ("io_uring_setup", [8, "ZEROS:120"], "EPERM"),
    "userfaultfd": ("userfaultfd", [0], "EPERM"),
    "personality_read_implies_exec": ("personality", [0x0400000], "EPERM"),
    "reboot": ("reboot", [0xfee1dead, 672274793, 0x4321fedc, 0], "EPERM"),  # RESTART
    "kexec_load": ("kexec_load", [0, 0, 0, 0], "EPERM"),
    "init_module": ("init_module", ["ZEROS:64", 64, b""], "EPERM"),
    "finit_module": ("finit_module", ["FD:/dev/null", b"", 0], "EPERM"),
    "delete_module": ("delete_module", [b"ext4", 0x800], "EPERM"),
    "swapon": ("swapon", [b"/work/seed.txt", 0], "EPERM"),
    "open_by_handle_at": ("open_by_handle_at", [-100, "ZEROS:64", 0], "EPERM"),
    "process_vm_readv": ("process_vm_readv", ["PPID", 0, 0, 0, 0, 0], "EPERM"),
    "fsopen": ("fsopen", [b"tmpfs", 0], "EPERM"),
    "open_tree": ("open_tree", [-100, b"/usr", 1], "EPERM"),             # OPEN_TREE_CLONE
    "sethostname": ("sethostname", [b"pwned", 5], "EPERM"),
    "syslog_read_all": ("syslog", [3, "ZEROS:64", 64], "EPERM"),
    "kcmp": ("kcmp", ["PPID", "PID", 0, 0, 0], "EPERM"),
    "pidfd_getfd": ("pidfd_getfd", [0, 0, 0], "EPERM"),
    "clone3": ("clone3", ["ZEROS:88", 88], "ENOSYS"),
    "clone_newuser": ("clone", [CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0], "EPERM"),
    "clone_newns": ("clone", [CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0], "EPERM"),
    "clone_newpid": ("clone", [CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0], "EPERM"),
    "ioctl_tiocsti": ("ioctl", [0, 0x5412, "ZEROS:1"], "EPERM"),
}

SYSCALL_PAYLOAD = r'''
import ctypes, errno, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
nr, args = json.loads(sys.argv[1])
keep = []
def arg(a):
    if isinstance(a, str):
        kind, _, rest = a.partition(":")
        if kind == "PPID":
            return ctypes.c_long(os.getppid())
        if kind == "PID":
            return ctypes.c_long(os.getpid())
        if kind == "FD":
            return ctypes.c_long(os.open(rest, os.O_RDONLY))
        if kind == "ZEROS":
            b = ctypes.create_string_buffer(int(rest))
            keep.append(b)
            return ctypes.cast(b, ctypes.c_void_p)
        return ctypes.c_char_p(a.encode())
    if isinstance(a, list):
        return ctypes.c_char_p(bytes(a))
    return ctypes.c_long(a)
parent = os.getpid()
cargs = [arg(a) for a in args]
ctypes.set_errno(0)
rc = libc.syscall(ctypes.c_long(nr), *cargs)
e = ctypes.get_errno()
if rc == 0 and os.getpid() != parent:
    os._exit(0)             # a clone child: the parent reports
print(rc, errno.errorcode.get(e, e) if rc == -1 else "-")
'''


import json  # noqa: E402


def _args(args):
    # bytes do not survive JSON: send them as lists of ints
    return [list(a) if isinstance(a, bytes) else a for a in args]


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_refused_syscall(api, sid, name):
    call, args, want = ATTACKS[name]
    body = api.run_py(sid, SYSCALL_PAYLOAD,
                      args="'%s'" % json.dumps([NR[call], _args(args)]), timeout=10)
    assert body["status"] == "ok", body
    assert body["stdout"].strip() == "-1 %s" % want, (name, body)


def test_x32_abi_does_not_bypass_the_filter(api, sid):
    """unshare through the x32 syscall numbers (nr | 0x40000000): the
    filter was written for x86_64 numbers; the call must still fail (killed
    for a bad arch, or ENOSYS), never create a user namespace."""
    if platform.machine() != "x86_64":
        pytest.fail("this attack is written for x86_64 (the test machine is %s)"
                    % platform.machine())
    body = api.run_py(sid, r'''
        import ctypes, errno, os
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        before = os.readlink("/proc/self/ns/user")
        pid = os.fork()
        if pid == 0:
            rc = libc.syscall(ctypes.c_long(0x40000000 | 272), ctypes.c_long(0x10000000))
            now = os.readlink("/proc/self/ns/user")
            print("rc", rc, errno.errorcode.get(ctypes.get_errno()), "same-ns", now == before,
                  flush=True)
            os._exit(0)
        _, st = os.waitpid(pid, 0)
        print("child", "signal" if os.WIFSIGNALED(st) else "exit",
              os.WTERMSIG(st) if os.WIFSIGNALED(st) else os.WEXITSTATUS(st))
    ''')
    out = body["stdout"]
    assert body["status"] == "ok", body
    assert out in ("child signal 31\n",                         # SIGSYS: bad arch
                   "rc -1 ENOSYS same-ns True\nchild exit 0\n",
                   "rc -1 EPERM same-ns True\nchild exit 0\n"), out


def test_int80_i386_abi_does_not_bypass_the_filter(api, sid):
    """unshare(CLONE_NEWUSER) through `int 0x80` (the i386 entry, where
    unshare is 310): killed for a bad arch or refused, never done."""
    if platform.machine() != "x86_64":
        pytest.fail("this attack is written for x86_64 (the test machine is %s)"
                    % platform.machine())
    body = api.run_py(sid, r'''
        import ctypes, mmap, os
        code = (b"\x53"                                   # push rbx
                b"\xb8" + (310).to_bytes(4, "little") +   # mov eax, 310 (i386 unshare)
                b"\xbb" + (0x10000000).to_bytes(4, "little") +  # mov ebx, CLONE_NEWUSER
                b"\xcd\x80"                               # int 0x80
                b"\x5b\xc3")                              # pop rbx; ret
        buf = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        buf.write(code)
        fn = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(buf)))
        before = os.readlink("/proc/self/ns/user")
        pid = os.fork()
        if pid == 0:
            rc = fn()
            print("rc", rc, "same-ns", os.readlink("/proc/self/ns/user") == before, flush=True)
            os._exit(0)
        _, st = os.waitpid(pid, 0)
        print("child", "signal" if os.WIFSIGNALED(st) else "exit",
              os.WTERMSIG(st) if os.WIFSIGNALED(st) else os.WEXITSTATUS(st))
    ''')
    out = body["stdout"]
    assert body["status"] == "ok", body
    assert out in ("child signal 31\n",
                   "rc -38 same-ns True\nchild exit 0\n",     # -ENOSYS: no ia32 emulation
                   "rc -1 same-ns True\nchild exit 0\n"), out


def test_ptrace_tools(api, sid):
    body = api.run_py(sid, r'''
        import ctypes, errno, os, signal, subprocess, time
        libc = ctypes.CDLL(None, use_errno=True)
        child = os.fork()
        if child == 0:
            time.sleep(30)
            os._exit(0)
        for req, name in ((16, "ATTACH"), (0x4206, "SEIZE")):
            rc = libc.ptrace(ctypes.c_long(req), ctypes.c_long(child), None, None)
            print(name, rc, errno.errorcode.get(ctypes.get_errno()))
        try:
            open("/proc/%d/mem" % child, "rb").read(1)
            print("MEM READ")
        except OSError as e:
            print("mem", errno.errorcode.get(e.errno))
        r = subprocess.run(["strace", "-f", "-o", "/dev/null", "true"], capture_output=True)
        print("strace", r.returncode)
        r = subprocess.run(["strace", "-p", str(child)], capture_output=True, timeout=10)
        print("strace-p", r.returncode)
        os.kill(child, signal.SIGKILL)
    ''', timeout=20)
    out = body["stdout"].splitlines()
    assert body["status"] == "ok", body
    assert out[0] == "ATTACH -1 EPERM" and out[1] == "SEIZE -1 EPERM", out
    # /proc/<pid>/mem of a process of the same uid reads through ptrace
    # access checks: EIO (no mapping at 0) or EPERM/EACCES, never data
    assert out[2] != "MEM READ", out
    assert out[3] != "strace 0" and out[4] != "strace-p 0", out


def test_namespace_tools(api, sid):
    body = api.run(sid, "unshare -Ur id -u; echo a=$?; unshare -m true; echo b=$?; "
                        "unshare -n true; echo c=$?; mount -t tmpfs none /tmp; echo d=$?; "
                        "umount /proc; echo e=$?; nsenter -t 1 -a true; echo f=$?; "
                        "chroot /tmp true; echo g=$?; id -u; echo END")
    out = body["stdout"]
    assert out.endswith("1000\nEND\n"), body
    for k in "abcdefg":
        assert "%s=" % k in out and "%s=0\n" % k not in out, (k, out)
    assert "\n0\n" not in "\n" + out, out                       # never root, not even mapped


def test_setuid_binaries_do_not_give_root(api, sid):
    body = api.run(sid, "ls -l /usr/bin/su /usr/bin/passwd /usr/bin/mount | cut -c1-10; "
                        "su -c 'id -u' root </dev/null; echo su=$?; "
                        "passwd -S root </dev/null; echo passwd=$?; "
                        "mount -t proc proc /tmp; echo mount=$?; "
                        "newgrp root </dev/null; echo newgrp=$?; "
                        "chsh -s /bin/sh root </dev/null; echo chsh=$?; "
                        "id -u; id -g; echo END", timeout=20)
    out = body["stdout"]
    assert out.endswith("1000\n1000\nEND\n"), body
    assert out.startswith("-rwsr-xr-x\n-rwsr-xr-x\n-rwsr-xr-x\n"), out   # they are setuid
    for k in ("su", "passwd", "mount", "newgrp", "chsh"):
        assert "%s=" % k in out and "%s=0\n" % k not in out, (k, out)
    assert "\n0\n" not in out, out


def test_setuid_zero_and_capset(api, sid):
    body = api.run_py(sid, r'''
        import ctypes, errno, os
        for name, fn in (("setuid", lambda: os.setuid(0)), ("setgid", lambda: os.setgid(0)),
                         ("setresuid", lambda: os.setresuid(0, 0, 0)),
                         ("setgroups", lambda: os.setgroups([0])),
                         ("chown", lambda: os.chown("/work/seed.txt", 0, 0))):
            try:
                fn()
                print(name, "DONE")
            except OSError as e:
                print(name, errno.errorcode.get(e.errno))
        # capset: ask for every capability back
        libc = ctypes.CDLL(None, use_errno=True)
        hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)
        data = (ctypes.c_uint32 * 6)(*([0xffffffff] * 6))
        rc = libc.capset(hdr, data)
        print("capset", rc, errno.errorcode.get(ctypes.get_errno()))
        print(os.getresuid(), os.getresgid())
    ''')
    assert body["stdout"] == ("setuid EPERM\nsetgid EPERM\nsetresuid EPERM\nsetgroups EPERM\n"
                              "chown EPERM\ncapset -1 EPERM\n(1000, 1000, 1000) (1000, 1000, 1000)\n"), body


def test_capabilities_are_all_zero(api, sid):
    body = api.run(sid, "grep ^Cap /proc/self/status; python3 -c \"print(open('/proc/self/status').read())\" | grep ^Cap")
    assert body["status"] == "ok", body
    lines = body["stdout"].splitlines()
    assert len(lines) == 10, body                       # shell and python: 5 each
    for l in lines:
        k, v = l.split()
        assert k in ("CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"), l
        assert int(v, 16) == 0, l


def test_ids_inside_and_on_the_host(api, sid):
    """uid and gid 1000 inside; mapped to unprivileged host ids, never 0."""
    body = api.run(sid, "id -u; id -g; id -G; grep -E '^(Uid|Gid|Groups):' /proc/self/status; "
                        "cat /proc/self/uid_map /proc/self/gid_map; cat /proc/self/setgroups")
    out = body["stdout"].splitlines()
    assert body["status"] == "ok", body
    assert out[:3] == ["1000", "1000", "1000"], out
    assert out[3].split()[1:] == ["1000"] * 4 and out[4].split()[1:] == ["1000"] * 4, out
    assert out[5].split()[1:] in ([], ["1000"]), out
    maps = [l.split() for l in out[6:-1]]
    assert maps and all(len(m) == 3 for m in maps), out
    for inside, host, count in maps:
        assert int(host) != 0 and int(host) >= 1000, ("an id maps to a privileged host id", out)
        assert int(count) == 1, out
    assert out[-1] == "deny", out


def test_hostname_is_sandbox(api, sid):
    body = api.run(sid, "hostname; uname -n; cat /proc/sys/kernel/hostname; "
                        "hostname pwned; echo rc=$?; hostname")
    assert body["stdout"].splitlines() == ["sandbox"] * 3 + ["rc=1", "sandbox"], body


def test_seccomp_and_no_new_privs(api, sid):
    body = api.run(sid, "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; "
                        "python3 -c \"import ctypes; print('nnp', ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))\"")
    assert body["status"] == "ok", body
    lines = [l.split() for l in body["stdout"].splitlines()]
    assert ["NoNewPrivs:", "1"] in lines and ["Seccomp:", "2"] in lines, body
    assert ["nnp", "1"] in lines, body


def test_kill_init_and_signal_outside(api, sid, stack):
    """kill(1) (the sandbox's init) is refused; the stack's host pids do not
    exist in the job's PID namespace."""
    pids = [p.pid for p in stack.procs.values()]
    body = api.run(sid, "kill -9 1; echo init=$?; kill -STOP 1; echo stop=$?; "
                        + "".join("kill -9 %d 2>/dev/null; echo host=$?; " % p for p in pids)
                        + "echo alive")
    out = body["stdout"]
    assert out.endswith("alive\n"), body
    assert "init=1" in out and "stop=1" in out, out
    assert out.count("host=1") == len(pids), out
    assert stack.alive() == []
