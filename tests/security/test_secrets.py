"""Attacks that try to read what the job must never see: host files, the
executor's configuration, environment and processes, the Redis password,
other sessions' files, kernel memory and logs.

Each job carries a positive control (a marker it must print, or its own
planted secret it must find) so that a job that did not run cannot pass.
"""

import os
import secrets

# Walks the sandbox's whole file system for names and contents. /proc is
# left out of the content walk (reading /proc/kmsg blocks, kcore is huge) and
# scanned separately; /usr is searched by name only (it is 8+ GiB of the
# host's read-only /usr, which a session's data never reaches: grepping it
# alone takes ~40 s).
FIND_EVERYWHERE = r'''
import os, sys
# the needles come on stdin: in argv they would show in our own cmdline
needles = [n.encode() for n in sys.stdin.read().split()]
hits = []
for dirpath, dirnames, filenames in os.walk("/"):
    if dirpath == "/":
        dirnames[:] = [d for d in dirnames if d not in ("proc", "sys")]
    for name in dirnames + filenames:
        for n in needles:
            if n in name.encode():
                hits.append("name %s" % os.path.join(dirpath, name))
    if dirpath == "/usr" or dirpath.startswith("/usr/"):
        continue
    for name in filenames:
        path = os.path.join(dirpath, name)
        try:
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            with open(path, "rb") as f:
                data = f.read(64 << 20)
        except OSError:
            continue
        for n in needles:
            if n in data:
                hits.append("content %s %s" % (path, n.decode()))
# what other processes show: their command lines and environments
for pid in os.listdir("/proc"):
    if not pid.isdigit() and pid not in ("self", "thread-self"):
        continue
    for what in ("environ", "cmdline"):
        try:
            with open("/proc/%s/%s" % (pid, what), "rb") as f:
                data = f.read()
        except OSError:
            continue
        for n in needles:
            if n in data:
                hits.append("proc %s/%s %s" % (pid, what, n.decode()))
for line in hits:
    print(line)
print("WALKED")
'''


def walk_for(api, sid, *needles, timeout=60):
    body = api.run_py(sid, FIND_EVERYWHERE, timeout=timeout, stdin="\n".join(needles))
    assert body["status"] == "ok", body
    assert body["stdout"].rstrip().endswith("WALKED"), body
    return body["stdout"].splitlines()[:-1]


def test_etc_shadow_is_absent(api, sid):
    try:
        with open("/etc/shadow") as f:
            host_lines = [l for l in f.read().splitlines() if l.strip()]
    except OSError:
        host_lines = []
    body = api.run(sid, "cat /etc/shadow; echo rc=$?; cat /etc/gshadow; ls /etc/ssh /etc/sudoers; "
                        "ls /etc; echo END")
    assert body["stdout"].rstrip().endswith("END"), body
    assert "rc=1" in body["stdout"], body
    assert "/etc/shadow: No such file or directory" in body["stderr"], body
    listing = body["stdout"].split("rc=1\n", 1)[1].split()
    assert "shadow" not in listing and "gshadow" not in listing and "ssh" not in listing, body
    for line in host_lines:
        assert line not in body["stdout"], "host /etc/shadow leaked: %s" % line
    assert ":*:" not in body["stdout"] and ":!:" not in body["stdout"]


def test_host_etc_passwd_is_not_the_sandbox_one(api, sid):
    """The sandbox's /etc is its own: none of the host's accounts beyond the
    three it defines (root, sandbox, nobody)."""
    with open("/etc/passwd") as f:
        host_users = {l.split(":")[0] for l in f if ":" in l}
    body = api.run(sid, "cat /etc/passwd; echo END")
    assert body["status"] == "ok" and body["stdout"].endswith("END\n"), body
    users = {l.split(":")[0] for l in body["stdout"].splitlines() if ":" in l}
    assert users == {"root", "sandbox", "nobody"}, body
    assert not (host_users - {"root", "nobody"}) & users


def test_executor_configuration_is_not_readable(api, sid, stack):
    conf = stack.conf_path
    assert conf.exists() and "redis_password" in conf.read_text()
    body = api.run(sid, "cat %s; echo rc=$?; ls -la %s; echo rc=$?; ls -la %s; echo END"
                   % (conf, stack.dir, stack.root / "src"))
    assert body["stdout"].endswith("END\n"), body
    assert [l for l in body["stdout"].splitlines() if l.startswith("rc=")] == ["rc=1", "rc=2"], body
    assert "No such file or directory" in body["stderr"], body
    assert "redis_password" not in body["stdout"] and stack.redis_password not in body["stdout"]
    assert "evald.conf" not in body["stdout"] and "executor0.log" not in body["stdout"]


def test_executor_configuration_is_nowhere_in_the_sandbox(api, sid, stack):
    """By name anywhere (also under /usr), by content everywhere but /usr:
    no evald.conf, nothing of the stack's directory, no Redis password."""
    control = "control-" + secrets.token_hex(8)
    api.write(sid, "control.txt", control)
    hits = walk_for(api, sid, "evald.conf", stack.dir.name, stack.redis_password,
                    "redis_password", control)
    assert hits == ["content /work/control.txt %s" % control], hits


def test_redis_password_is_not_in_the_sandbox(api, sid, stack):
    control = "control-" + secrets.token_hex(8)
    api.write(sid, "mine.txt", control)
    hits = walk_for(api, sid, stack.redis_password, control)
    # the control is found (the walk reads files) and nothing else is
    assert hits == ["content /work/mine.txt %s" % control], hits
    body = api.run(sid, "env; cat /proc/self/environ; echo; cat /proc/self/mountinfo")
    assert stack.redis_password not in body["stdout"] + body["stderr"], body


def test_environment_is_built_from_scratch(api, sid, sec):
    body = api.run(sid, "env; echo ==; tr '\\0' '\\n' < /proc/self/environ; echo ==; "
                        "for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done; echo END")
    assert body["status"] == "ok" and body["stdout"].endswith("END\n"), body
    out = body["stdout"]
    assert "HOME=/work" in out and "USER=sandbox" in out          # the job's own
    assert sec.CANARY_VALUE not in out and sec.CANARY_NAME not in out, out
    for k in ("EVALD_", "REDIS", "PYTEST", "VIRTUAL_ENV", "SSH_", "SUDO_"):
        assert k not in out, (k, out)
    env = dict(l.split("=", 1) for l in out.split("==\n")[0].splitlines() if "=" in l)
    assert env.get("PATH") == "/run/evald/bin:/usr/bin:/bin", env
    assert env.get("HOME") == "/work", env


def test_proc_1_environ(api, sid, sec):
    with open("/proc/1/cmdline", "rb") as f:
        host_init = f.read().split(b"\0")[0].decode()
    body = api.run(sid, "cat /proc/1/environ; echo rc=$?; cat /proc/1/cmdline; echo rc=$?; "
                        "ls /proc/1/root/; echo rc=$?; ls -la /proc/1/cwd; echo rc=$?; echo END")
    out = body["stdout"]
    assert out.endswith("END\n"), body
    assert [l for l in out.splitlines() if l.startswith("rc=")] == ["rc=1", "rc=1", "rc=2", "rc=2"], body
    assert sec.CANARY_VALUE not in out and "PATH=" not in out, out
    assert host_init not in out + body["stderr"], out
    # /proc/1 is the sandbox's init, hidden from the job (hidepid=2)
    assert "/proc/1/environ: No such file or directory" in body["stderr"], body


def test_host_process_command_lines_are_invisible(api, sid, stack, sec):
    """The PID namespace holds only the job: no redis-server, nginx,
    evald-api, evald-executor or pytest in /proc, whatever the job reads,
    and none of the stack's host pids answers."""
    host = sec.host_cmdlines()
    assert any("redis-server" in c for c in host.values())      # they do run on the host
    stack_pids = sorted(p.pid for p in stack.procs.values()) + stack.api_worker_pids()
    body = api.run_py(sid, r'''
        import os, sys
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        print("PIDS", pids)
        for p in pids:
            for what in ("cmdline", "comm", "status"):
                try:
                    with open("/proc/%d/%s" % (p, what), "rb") as f:
                        print(p, what, f.read().replace(b"\0", b" ").decode("utf-8", "replace"))
                except OSError as e:
                    print(p, what, "ERR", e.errno)
        # probe by number: the stack's host pids must not answer here
        host_pids = [int(a) for a in sys.argv[1:]]
        print("EXISTS", [p for p in host_pids if os.path.exists("/proc/%d" % p)])
        print("KILL", [p for p in host_pids if os.system("kill -0 %d 2>/dev/null" % p) == 0])
    ''', timeout=30, args=" ".join(map(str, stack_pids)))
    assert body["status"] == "ok", body
    out = body["stdout"]
    assert "python3 attack.py" in out, out                      # saw itself
    for name in sec.HOST_PROCESS_NAMES:
        assert name not in out, "host process %s visible: %s" % (name, out[:2000])
    for pid, cmd in host.items():
        if len(cmd) > 20 and "attack.py" not in cmd:
            assert cmd.strip() not in out, "host process %d visible: %s" % (pid, cmd)
    pids = eval(out.split("PIDS ", 1)[1].split("\n", 1)[0])
    assert 1 <= len(pids) <= 4, pids
    assert "EXISTS []" in out and "KILL []" in out, out
    assert 1 not in pids, pids


def test_ps_shows_only_the_job(api, sid, sec):
    body = api.run(sid, "ps -eo pid,user,args; echo END")
    assert body["status"] == "ok" and body["stdout"].endswith("END\n"), body
    rows = body["stdout"].splitlines()[1:-1]
    assert 1 <= len(rows) <= 3, rows
    for r in rows:
        assert r.split()[1] == "sandbox", rows
    for name in sec.HOST_PROCESS_NAMES:
        assert name not in body["stdout"], body


def test_kernel_log_and_memory(api, sid):
    body = api.run(sid, "dmesg >/dev/null; echo dmesg=$?; head -c 1 /proc/kmsg; echo kmsg=$?; "
                        "head -c 1 /proc/kcore; echo kcore=$?; head -c 8 /proc/kpageflags >/dev/null; "
                        "echo kpage=$?; head -c 1 /dev/mem; echo mem=$?; "
                        "grep -c -v '^0000000000000000 ' /proc/kallsyms; echo END")
    out = body["stdout"]
    assert out.endswith("END\n"), body
    for k in ("dmesg", "kmsg", "kcore", "kpage", "mem"):
        assert "%s=" % k in out and "%s=0" % k not in out, (k, out)
    # kernel addresses are hidden: every kallsyms line starts with zeros
    assert out.splitlines()[-2] == "0", out


def test_other_sessions_files(api, sid):
    """Session A holds a secret; a job of session B searches every name and
    every file for it. B's own planted secret, searched the same way, is
    found: the search works."""
    tag = secrets.token_hex(8)
    a = api.new_session({"a-secret-%s.txt" % tag: "A-SECRET-%s\n" % tag,
                         "dir/a-nested-%s" % tag: "A-SECRET-%s\n" % tag})
    # A's files were materialised in a sandbox at least once
    assert api.run(a, "cat a-secret-%s.txt" % tag)["stdout"] == "A-SECRET-%s\n" % tag
    api.write(sid, "b-control-%s.txt" % tag, "B-CONTROL-%s\n" % tag)
    hits = walk_for(api, sid, "a-secret-" + tag, "a-nested-" + tag, "A-SECRET-" + tag,
                    "B-CONTROL-" + tag)
    assert sorted(hits) == ["content /work/b-control-%s.txt B-CONTROL-%s" % (tag, tag)], hits
    body = api.run(sid, "find / -path /proc -prune -o -name '*%s*' -print 2>/dev/null; "
                        "grep -rs -l 'SECRET-%s' /work /tmp /dev/shm /run /etc; echo END" % (tag, tag))
    assert body["stdout"] == "/work/b-control-%s.txt\nEND\n" % tag, body


def test_no_descriptor_is_inherited(api, sid):
    """Only the job's stdin, stdout and stderr (pipes) are open in it: no
    Redis connection, log file or socket of the executor came along."""
    body = api.run_py(sid, r'''
        import os
        for fd in sorted(int(f) for f in os.listdir("/proc/self/fd")):
            try:
                print(fd, os.readlink("/proc/self/fd/%d" % fd))
            except OSError as e:
                print(fd, "gone")          # the listing's own descriptor
    ''')
    assert body["status"] == "ok", body
    lines = body["stdout"].splitlines()
    fds = {int(l.split()[0]): l.split()[1] for l in lines}
    assert set(fds) - {0, 1, 2} <= {3}, body         # 3: os.listdir's own, closed by now
    for fd in (0, 1, 2):
        assert fds[fd].startswith("pipe:"), body


def test_memory_of_the_sandbox_helpers(api, sid, stack):
    """While the job runs, the sandbox's init and its stdin feeder (forks of
    the executor, holding its configuration and the Redis password in their
    memory) exist in the job's PID namespace. A large stdin that the job
    does not read keeps the feeder alive while the job reads every /proc/<pid>
    it can: mem (through maps), environ, cmdline. The password is in none."""
    stdin = "A" * (2 << 20)
    api.write(sid, "needle.txt", stack.redis_password)
    body = api.run_py(sid, r'''
        import os, sys
        needle = open("needle.txt", "rb").read()     # only this process reads it
        seen, leaks = [], []
        for pid in sorted(os.listdir("/proc")):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            seen.append(pid)
            base = "/proc/%s/" % pid
            for what in ("environ", "cmdline"):
                try:
                    if needle in open(base + what, "rb").read():
                        leaks.append(base + what)
                except OSError:
                    pass
            try:
                with open(base + "mem", "rb") as mem:
                    for line in open(base + "maps"):
                        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                        if "r" not in line.split()[1] or hi - lo > (256 << 20):
                            continue
                        try:
                            mem.seek(lo)
                            if needle in mem.read(hi - lo):
                                leaks.append(base + "mem")
                        except (OSError, ValueError, OverflowError):
                            pass
            except OSError:
                pass
        print("seen", seen)
        print("leaks", leaks)
        print("stdin", len(sys.stdin.read()))
    ''', stdin=stdin, timeout=30)
    assert body["status"] == "ok", body
    out = body["stdout"]
    assert "leaks []\n" in out, out
    assert "'1'" not in out.split("seen ", 1)[1].split("\n", 1)[0], out   # init stays hidden
    assert out.endswith("stdin %d\n" % len(stdin)), out        # the feeder was there, busy
