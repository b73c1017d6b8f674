"""Attacks on the mount namespace and on the session's files: writing
outside /work and /tmp, device files, /proc/sys, and symbolic and hard links
at save-back (the job makes them) and at materialisation (the session holds
them when the next job starts)."""

import base64
import os
import secrets
import time

import pytest


def test_write_outside_work_and_tmp(api, sid):
    tag = "pwned-" + secrets.token_hex(6)
    targets = ["/%s" % tag, "/usr/%s" % tag, "/usr/bin/%s" % tag, "/etc/%s" % tag,
               "/run/evald/%s" % tag, "/run/evald/bin/%s" % tag, "/dev/%s" % tag,
               "/proc/%s" % tag, "/lib/%s" % tag, "/bin/%s" % tag]
    cmd = "".join("(echo x > %s) 2>/dev/null && echo WROTE %s || echo refused %s; "
                  % (t, t, t) for t in targets)
    cmd += "echo y > /work/ok1 && echo y > /tmp/ok2 && echo y > /dev/shm/ok3 && echo CONTROL"
    body = api.run(sid, cmd)
    out = body["stdout"]
    assert out.endswith("CONTROL\n"), body                   # writable places do work
    assert "WROTE" not in out, out
    assert out.count("refused ") == len(targets), out
    # and nothing reached the host's directories
    for t in ("/usr/%s" % tag, "/usr/bin/%s" % tag, "/etc/%s" % tag, "/%s" % tag):
        assert not os.path.exists(t), t


def test_overwrite_system_files(api, sid):
    """Appending to, replacing or chmod-ing what the sandbox shares with the
    host (/usr, the python link, /etc) fails; the host files are unchanged."""
    with open("/usr/bin/env", "rb") as f:
        env_before = f.read()
    body = api.run(sid, "echo x >> /etc/passwd; echo a=$?; echo x >> /usr/bin/env; echo b=$?; "
                        "ln -sf /work/evil /run/evald/bin/python; echo c=$?; "
                        "chmod 777 /usr/bin; echo d=$?; mv /usr/bin/env /tmp/; echo e=$?; "
                        "rm -f /usr/bin/env; echo f=$?; touch -d 2000-01-01 /usr/bin/env; echo g=$?; "
                        "readlink /run/evald/bin/python; echo END")
    out = body["stdout"]
    assert out.endswith("END\n"), body
    for k in "abcdefg":
        assert "%s=" % k in out and "%s=0\n" % k not in out, (k, out)
    assert "/usr/bin/python3\n" in out, out
    with open("/usr/bin/env", "rb") as f:
        assert f.read() == env_before


def test_root_and_usr_are_read_only_mounts(api, sid):
    """Every mount but the job's own tmpfs (/work, /tmp, /dev/shm), /proc
    and the bound /dev nodes is read-only, and every writable one is nosuid."""
    body = api.run(sid, "awk '{print $5, $6}' /proc/self/mountinfo")
    assert body["status"] == "ok", body
    mounts = dict(l.split(" ", 1) for l in body["stdout"].splitlines())
    for m in ("/", "/usr", "/work", "/tmp"):
        assert m in mounts, (m, mounts)
    for m, opts in mounts.items():
        opts = opts.split(",")
        if m in ("/work", "/tmp", "/dev/shm", "/proc"):
            assert "nosuid" in opts and "nodev" in opts, (m, opts)
        elif m.startswith("/dev/"):
            assert m in ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
                         "/dev/pts", "/dev/mqueue"), (m, mounts)
        else:
            assert opts[0] == "ro" and "nosuid" in opts, ("writable or suid mount", m, opts)


def test_proc_sys_writes(api, sid):
    with open("/proc/sys/kernel/core_pattern") as f:
        core_before = f.read()
    with open("/proc/sys/kernel/hostname") as f:
        hostname_before = f.read()
    # each value is written back as it is: harmless even if it worked
    body = api.run(sid, "for f in kernel/core_pattern kernel/hostname vm/drop_caches "
                        "kernel/modprobe vm/overcommit_memory net/ipv4/ip_forward; do "
                        "  v=$(cat /proc/sys/$f 2>/dev/null || echo 1); "
                        "  (printf '%s\\n' \"$v\" > /proc/sys/$f) 2>/dev/null "
                        "    && echo WROTE $f || echo refused $f; "
                        "done; hostname; echo 1 > /proc/sysrq-trigger 2>/dev/null "
                        " && echo WROTE sysrq || echo refused sysrq; echo END")
    out = body["stdout"]
    assert out.endswith("END\n"), body
    assert "WROTE" not in out, out
    assert out.count("refused") == 7, out
    assert "\nsandbox\n" in out, out
    with open("/proc/sys/kernel/core_pattern") as f:
        assert f.read() == core_before
    with open("/proc/sys/kernel/hostname") as f:
        assert f.read() == hostname_before


def test_mknod_device_files(api, sid):
    body = api.run_py(sid, r'''
        import errno, os, stat
        for name, mode, dev in (("mem", stat.S_IFCHR, os.makedev(1, 1)),
                                ("sda", stat.S_IFBLK, os.makedev(8, 0)),
                                ("vda", stat.S_IFBLK, os.makedev(254, 0)),
                                ("null2", stat.S_IFCHR, os.makedev(1, 3))):
            for where in ("/work", "/tmp", "/dev/shm"):
                try:
                    os.mknod("%s/%s" % (where, name), mode | 0o666, dev)
                    print("MADE", where, name)
                except OSError as e:
                    print(errno.errorcode.get(e.errno, e.errno))
        os.mkfifo("/work/fifo")            # control: a FIFO is not a device
        print("fifo ok")
    ''')
    out = body["stdout"].split("\n")
    assert body["stdout"].endswith("fifo ok\n"), body
    assert "MADE" not in body["stdout"], body
    assert out[:12] == ["EPERM"] * 12, body


def test_dev_holds_only_the_harmless_nodes(api, sid):
    body = api.run(sid, "ls -A /dev; echo ==; for d in sda vda nvme0n1 mem kmem port kvm "
                        "fuse net/tun tty console loop0 loop-control; do "
                        "  [ -e /dev/$d ] && echo PRESENT $d; done; ls /sys; echo rc=$?; "
                        "head -c 4 /dev/zero | od -An -tx1; echo END")
    out = body["stdout"]
    assert out.endswith("END\n"), body
    names = set(out.split("==\n")[0].split())
    assert names <= {"null", "zero", "full", "random", "urandom", "shm", "fd", "stdin",
                     "stdout", "stderr", "pts", "ptmx", "mqueue"}, names
    assert {"null", "zero", "urandom"} <= names, names
    assert "PRESENT" not in out, out
    assert "rc=2" in out, out                       # no /sys at all
    assert "00 00 00 00" in out                      # control: /dev/zero works


def test_symlink_to_etc_passwd_at_save_back(api, sid):
    """The job makes links to host files; the file routes never follow them
    (400 is_symlink), in any encoding, and no host content comes back."""
    with open("/etc/passwd") as f:
        host_passwd = f.read()
    body = api.run(sid, "ln -s /etc/passwd p; ln -s /etc/shadow s; ln -s /proc/1/environ e; "
                        "ln -s /proc/self/root r; ln -s ../../../../etc/passwd up; "
                        "ln -s loop loop; ln -s /etc et; echo made")
    assert body["stdout"] == "made\n", body
    for link in ("p", "s", "e", "r", "up", "loop", "et", "et/passwd", "r/etc/passwd"):
        for enc in (None, "base64"):
            r = api.read(sid, link, encoding=enc)
            assert 400 <= r.status_code < 500, (link, r.status_code, r.text[:300])
            text = r.text
            if enc:
                try:
                    text += base64.b64decode(r.json().get("content", "")).decode("latin-1")
                except Exception:
                    pass
            assert "root:x:0:0" not in text and "daemon:" not in text, (link, text[:300])
        if "/" not in link:
            assert r.json().get("code") == "is_symlink", (link, r.text)
    # the links are kept as links (not replaced by what they pointed at)
    body = api.run(sid, "readlink p; readlink r; cat up")
    # inside, the link reads the sandbox's own /etc/passwd, not the host's
    assert body["stdout"].startswith("/etc/passwd\n/proc/self/root\nroot:x:0:0:root:/:/bin/sh\n"), body
    for line in host_passwd.splitlines():
        if not line.startswith(("root:", "nobody:")):
            assert line not in body["stdout"], line


def test_symlink_to_executor_files(api, sid, stack):
    conf = str(stack.conf_path)
    body = api.run(sid, "ln -s %s c; ln -s %s d; ln -s %s/evald-executor x; cat c; echo rc=$?"
                   % (conf, stack.dir, stack.bindir))
    assert "rc=1" in body["stdout"], body
    assert "redis_password" not in body["stdout"], body
    for link, sub in (("c", ""), ("d", ""), ("d", "/evald.conf"), ("x", "")):
        r = api.read(sid, link + sub)
        assert 400 <= r.status_code < 500, (link, r.text[:300])
        assert "redis_password" not in r.text and stack.redis_password not in r.text
    r = api.post("/write_file", {"id": sid, "rel_path": "d/evald.conf", "content": "anonymous = all\n"})
    assert r.status_code == 400, r.text
    assert "anonymous = all" not in stack.conf_path.read_text()


def test_symlink_to_another_sessions_files(api, sid):
    tag = secrets.token_hex(8)
    other = api.new_session({"secret.txt": "OTHER-SECRET-%s\n" % tag})
    body = api.run(sid, "ln -s ../%s/secret.txt a; ln -s /work/%s/secret.txt b; "
                        "ln -s /tmp/%s/secret.txt c; ln -s ../../%s d; "
                        "cat a b c d/secret.txt; echo END" % (other, other, other, other))
    assert body["stdout"] == "END\n", body
    assert "OTHER-SECRET" not in body["stdout"]
    for link in ("a", "b", "c", "d", "d/secret.txt"):
        r = api.read(sid, link)
        assert 400 <= r.status_code < 500 and "OTHER-SECRET" not in r.text, (link, r.text)
    assert api.content(other, "secret.txt") == "OTHER-SECRET-%s\n" % tag     # untouched


def test_materialise_through_a_symlinked_directory(api, sid, stack):
    """A session holding a link to a host directory: the file routes refuse
    paths through it, and materialising it in the next job writes nothing on
    the host."""
    tag = "pwned-" + secrets.token_hex(6)
    api.write(sid, "a/x.txt", "payload\n")
    body = api.run(sid, "ln -s %s host; ln -s /usr/lib lib; ln -s /tmp tmp; echo made" % stack.dir)
    assert body["stdout"] == "made\n", body
    for path in ("host/%s" % tag, "lib/%s" % tag, "tmp/%s" % tag):
        r = api.post("/write_file", {"id": sid, "rel_path": path, "content": "x"})
        assert r.status_code == 400, (path, r.status_code, r.text)
        r = api.post("/rename_file", {"id": sid, "old_path": "a/x.txt", "new_path": path})
        assert r.status_code == 400, (path, r.status_code, r.text)
    body = api.run(sid, "ls -la; cat a/x.txt; echo END")
    assert body["stdout"].endswith("payload\nEND\n"), body
    assert not (stack.dir / tag).exists() and not os.path.exists("/usr/lib/" + tag)
    assert not list(stack.dir.rglob(tag + "*"))


def test_hard_link_to_host_files(api, sid):
    body = api.run(sid, "for t in /etc/passwd /etc/hosts /usr/bin/su /usr/bin/python3 "
                        "/run/evald/bin/python /dev/null; do "
                        "  ln $t h-$(basename $t) 2>&1 || true; done; ls; echo END")
    out = body["stdout"]
    assert out.endswith("END\n"), body
    assert out.count("Invalid cross-device link") >= 5, out
    listing = [l for l in out.splitlines() if not l.startswith("ln:")]
    assert listing == ["seed.txt", "END"], out
    r = api.read(sid, "h-passwd")
    assert r.status_code == 404, r.text
    assert "root:" not in r.text


def test_hard_link_inside_work_is_saved_as_a_copy(api, sid):
    """A hard link between two session files comes back as two independent
    files: a later write to one never changes the other."""
    api.write(sid, "orig.txt", "original\n")
    body = api.run(sid, "ln orig.txt twin.txt; stat -c %h orig.txt")
    assert body["stdout"] == "2\n", body
    api.write(sid, "twin.txt", "changed\n")
    assert api.content(sid, "orig.txt") == "original\n"
    body = api.run(sid, "stat -c %h orig.txt; cat orig.txt twin.txt")
    assert body["stdout"] == "1\noriginal\nchanged\n", body


def test_special_files_at_save_back(api, sid):
    """A FIFO and a socket in /work when the job ends: save-back skips them
    and does not block on the FIFO (nobody ever writes it)."""
    body = api.run_py(sid, r'''
        import os, socket
        os.mkfifo("/work/fifo")
        s = socket.socket(socket.AF_UNIX)
        s.bind("/work/sock")
        open("/work/after.txt", "w").write("saved\n")
        print("made")
    ''', timeout=20)
    assert body["stdout"] == "made\n" and body["status"] == "ok", body
    assert body["time_ms"] < 15000, body
    for name in ("fifo", "sock"):
        assert api.read(sid, name).status_code == 404
    assert api.content(sid, "after.txt") == "saved\n"
    body = api.run(sid, "ls; echo END")
    assert body["status"] == "ok" and body["stdout"].endswith("END\n"), body
    assert "fifo" not in body["stdout"] and "sock" not in body["stdout"], body


def test_deeply_nested_directories_at_save_back(api, sid):
    """300 nested directories (deeper than save-back walks): the job's
    answer is a normal one and its other files are saved. The sandbox's init
    walks /work as root of the user namespace: the job must not be able to
    crash it."""
    body = api.run(sid, "p=/work/deep; for i in $(seq 300); do p=$p/d; done; mkdir -p $p; "
                        "echo bottom > $p/bottom.txt; echo top > /work/top.txt; echo made")
    assert body["stdout"] == "made\n" and body["status"] == "ok", body
    assert api.content(sid, "top.txt") == "top\n"
    body = api.run(sid, "cat top.txt; ls deep/d/d/d >/dev/null && echo kept")
    assert body["stdout"] == "top\nkept\n", body


@pytest.mark.parametrize("depth", [130, 2040])
def test_deep_session_path_written_through_the_api(api, sid, depth):
    """A file `depth` directories deep, written with /write_file alone (2040
    levels is a valid path of 4089 bytes, under the API's 4096): the
    session's next job answers normally and in time (materialising it must
    not take the sandbox's init minutes), and the file is there for it."""
    path = "/".join(["d"] * depth) + "/deep.txt"
    api.write(sid, path, "deep\n")
    t0 = time.monotonic()
    body = api.run(sid, "cat %s; echo top > top.txt" % path, timeout=5)
    elapsed = time.monotonic() - t0
    assert body["status"] == "ok" and body["stdout"] == "deep\n", body
    assert elapsed < 5, elapsed
    assert api.content(sid, "top.txt") == "top\n"
