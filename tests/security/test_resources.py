"""Attacks on the limits: fork and memory bombs, filling the tmpfs mounts,
flooding the output, burning CPU, sleeping past the wall clock, processes
that try to outlive their job, kill -9 -1.

Limits of the module's stack (conftest.OVERRIDES): 64 processes, 256 MiB of
memory, 32 MiB per tmpfs, 16 MiB per file, 256 KiB of output, 8 MiB per
session.
"""

import secrets
import time

import pytest


def wait_gone(sec, marker, seconds=5.0):
    """Host pids whose command line holds marker, after up to `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        pids = sec.host_pids_with(marker)
        if not pids or time.monotonic() > deadline:
            return pids
        time.sleep(0.2)


def test_fork_bomb(api, sid, sec):
    marker = "bomb-" + secrets.token_hex(6)
    t0 = time.monotonic()
    body = api.run(sid, ": %s; bomb() { bomb | bomb & }; bomb; sleep 30" % marker, timeout=3)
    elapsed = time.monotonic() - t0
    assert body["status"] in ("timeout", "runtime_error"), body
    assert elapsed < 15, elapsed
    # nothing of it is left on the host
    assert wait_gone(sec, marker) == []
    # the next job in the same session runs normally
    body = api.run(sid, "echo after; ls")
    assert body["status"] == "ok" and body["stdout"].startswith("after\n"), body


def test_fork_bomb_does_not_starve_a_concurrent_job(api, sec):
    bomber, victim = api.new_session(), api.new_session()
    bomb_body, victim_body = sec.run_together(api, [
        (bomber, "bomb() { bomb | bomb & }; bomb; sleep 30", 5),
        (victim, "for i in $(seq 20); do sh -c 'exit 0' || echo FAILED; done; echo forked", 20),
    ], stagger=1.0)
    # Every failed fork makes the shell complain on stderr: the output cap
    # may end the bomb before the clock does.
    assert bomb_body["status"] in ("timeout", "runtime_error", "output_limit"), bomb_body
    assert victim_body["status"] == "ok", victim_body
    assert victim_body["stdout"] == "forked\n", victim_body


def test_process_count_is_limited(api, sid, sec):
    limit = sec.OVERRIDES["sandbox_procs"]
    body = api.run_py(sid, r'''
        import os, time
        n = 0
        for i in range(%d):
            try:
                if os.fork() == 0:
                    time.sleep(20)
                    os._exit(0)
                n += 1
            except OSError as e:
                print("fork failed after", n, e.strerror)
                break
        print("forked", n)
    ''' % (limit * 4), timeout=10)
    assert body["status"] == "ok", body
    n = int(body["stdout"].split("forked ")[1])
    assert n < limit, body
    assert "fork failed after" in body["stdout"], body


def test_memory_bomb(api, sid, sec):
    limit_kb = sec.OVERRIDES["sandbox_memory_mb"] * 1024
    body = api.run_py(sid, r'''
        import sys
        chunks = []
        try:
            while True:
                b = bytearray(8 << 20)
                b[::4096] = b"x" * len(b[::4096])     # touch every page
                chunks.append(b)
        except MemoryError:
            print("MemoryError after", len(chunks) * 8, "MiB", flush=True)
            sys.exit(3)
    ''', timeout=20)
    assert body["status"] in ("memory_limit", "runtime_error"), body
    assert body["exit_code"] != 0, body
    assert body["stdout"].startswith("MemoryError after") or body["exit_code"] in (-9, 137), body
    if body["stdout"]:
        got = int(body["stdout"].split()[2])
        assert got <= sec.OVERRIDES["sandbox_memory_mb"] * 4, body
    # peak memory bounded by the limit (4x: the address-space limit with a cgroup)
    assert body["memory_kb"] <= limit_kb * 4 + 65536, body


def test_memory_bomb_across_processes(api, sid, sec):
    """Three processes each touch 200 MiB (under the 256 MiB per-process
    address-space limit) and a fourth tries 512 MiB. The big one never gets
    it, whatever limits apply; with a cgroup the three cannot all finish
    either (600 MiB under 256 MiB + tmpfs), and the answer says which limits
    applied."""
    body = api.run_py(sid, r'''
        import os, time
        kids = []
        for i, mb in enumerate((200, 200, 200, 512)):
            pid = os.fork()
            if pid == 0:
                try:
                    b = bytearray(mb << 20)
                    b[::4096] = b"x" * len(b[::4096])
                    time.sleep(2)
                    print("DONE", mb, flush=True)
                    os._exit(0)
                except MemoryError:
                    print("MemoryError", mb, flush=True)
                    os._exit(3)
            kids.append(pid)
        for pid in kids:
            _, st = os.waitpid(pid, 0)
            print("child", st, flush=True)
    ''', timeout=20)
    assert body.get("limits") in ("cgroup", "rlimit"), body
    out = body["stdout"]
    assert "DONE 512" not in out, body
    # every child was accounted for (finished, MemoryError or killed), or
    # the whole job was stopped for memory
    assert out.count("child ") == 4 or body["status"] == "memory_limit", body
    if body["limits"] == "cgroup":
        assert out.count("DONE 200") < 3, ("600 MiB across 3 processes under a 256 MiB cgroup",
                                           body)
    else:
        assert "MemoryError 512" in out, body


@pytest.mark.parametrize("where", ["/tmp", "/dev/shm", "/work"])
def test_tmpfs_fill(api, sid, sec, where):
    size_mb = sec.OVERRIDES["sandbox_tmpfs_mb"]
    body = api.run(sid, "i=0; while dd if=/dev/zero of=%s/fill$i bs=1M count=8 status=none; "
                        "do i=$((i+1)); [ $i -gt 100 ] && break; done; "
                        "du -sm %s | cut -f1; echo files=$i" % (where, where), timeout=30)
    assert "No space left on device" in body["stderr"], body
    out = body["stdout"].split()
    used_mb, files = int(out[0]), int(out[1].split("=")[1])
    assert files < 100 and used_mb <= size_mb + 1, body
    assert body["time_ms"] < 20000, body
    if where == "/work":
        # over the session's limits: nothing of it is saved, the session keeps its files
        assert body.get("save_error"), body
        assert api.content(sid, "seed.txt") == "seed\n"
        assert api.read(sid, "fill0").status_code == 404


def test_file_size_limit(api, sid, sec):
    fsize = sec.OVERRIDES["sandbox_fsize_mb"]
    body = api.run(sid, "dd if=/dev/zero of=/tmp/big bs=1M count=%d; echo rc=$?; "
                        "stat -c %%s /tmp/big" % (fsize * 2), timeout=20)
    out = body["stdout"]
    assert "rc=0" not in out, body
    assert int(out.split()[-1]) <= fsize << 20, body
    assert "File size limit exceeded" in body["stderr"] or "File too large" in body["stderr"], body


def test_output_flood(api, sid, sec):
    cap = sec.OVERRIDES["output_max_bytes"]
    t0 = time.monotonic()
    body = api.run(sid, "yes pwned; echo NEVER", timeout=20)
    assert body["status"] == "output_limit", body
    assert body["truncated"] is True, body
    assert 0 < len(body["stdout"].encode()) <= cap, len(body["stdout"])
    assert set(body["stdout"].splitlines()[:-1]) == {"pwned"}
    assert "NEVER" not in body["stdout"]
    assert time.monotonic() - t0 < 15


def test_output_flood_on_both_streams(api, sid, sec):
    cap = sec.OVERRIDES["output_max_bytes"]
    body = api.run(sid, "yes out & yes err >&2 & head -c 100000000 /dev/urandom | base64; wait",
                   timeout=20)
    assert body["status"] == "output_limit" and body["truncated"] is True, body
    assert len(body["stdout"].encode()) + len(body["stderr"].encode()) <= cap, (
        len(body["stdout"]), len(body["stderr"]))


def test_cpu_burn(api, sid):
    body = api.run(sid, "python3 -c 'while True: pass'", timeout=2)
    assert body["status"] == "timeout", body
    assert 200 <= body["cpu_ms"] <= 4500, body          # it did burn, and was stopped
    assert body["time_ms"] <= 4500, body


def test_cpu_burn_in_many_processes(api, sid):
    body = api.run(sid, "for i in 1 2 3 4 5 6 7 8; do (while :; do :; done) & done; wait",
                   timeout=2)
    assert body["status"] == "timeout", body
    assert body["time_ms"] <= 4500, body


def test_sleep_past_the_wall_limit(api, sid):
    t0 = time.monotonic()
    body = api.run(sid, "echo before; sleep 30; echo after", timeout=2)
    elapsed = time.monotonic() - t0
    assert body["status"] == "timeout", body
    assert body["stdout"] == "before\n", body
    assert 1900 <= body["time_ms"] <= 3500, body
    assert elapsed < 8, elapsed
    assert body["cpu_ms"] < 1000, body


def test_background_process_outlives_its_job(api, sid, sec):
    """Processes left running when the job's shell exits (plain background,
    setsid + nohup ignoring TERM and HUP, a double fork) are killed with the
    job: they never write to the session, and nothing remains on the host."""
    marker = "late-" + secrets.token_hex(6)
    body = api.run(sid, "(sleep 2.5; echo late > /work/late1.txt) & "
                        "setsid nohup sh -c 'trap \"\" HUP TERM; : %s; sleep 2.5; "
                        "echo late > /work/late2.txt' >/dev/null 2>&1 & "
                        "(sh -c '(: %s; sleep 2.5; echo late > /work/late3.txt) &' &) ; "
                        "echo started" % (marker, marker), timeout=20)
    assert body["status"] == "ok" and body["stdout"] == "started\n", body
    assert body["time_ms"] < 2000, body
    time.sleep(0.5)
    assert sec.host_pids_with(marker) == [], "the job's processes survived it on the host"
    time.sleep(3.0)                             # past the moment they would write
    body = api.run(sid, "ls; ps -e -o args; echo END")
    assert body["status"] == "ok", body
    assert "late" not in body["stdout"], body
    assert "sleep" not in body["stdout"], body
    for name in ("late1.txt", "late2.txt", "late3.txt"):
        assert api.read(sid, name).status_code == 404


def test_kill_minus_one(api, sid, stack):
    """kill -9 -1 ends the job's own processes (the caller itself is spared
    by the kernel) and nothing else."""
    body = api.run(sid, "sleep 30 & p=$!; echo before; kill -9 -1; echo kill=$?; wait $p; "
                        "echo sleep=$?; echo after", timeout=20)
    assert body["stdout"] == "before\nkill=0\nsleep=137\nafter\n", body
    assert body["status"] == "ok", body
    assert body["time_ms"] < 5000, body
    assert stack.alive() == []
    body = api.run(sid, "echo next")
    assert body["stdout"] == "next\n" and body["status"] == "ok", body


def test_kill_minus_one_spares_a_concurrent_job(api, sec):
    killer, victim = api.new_session(), api.new_session()
    victim_body, killer_body = sec.run_together(api, [
        (victim, "sleep 3; echo survived", 20),
        (killer, "for s in 9 15 19; do kill -$s -1; done; echo done", 20),
    ], stagger=1.0)
    assert killer_body["stdout"] == "done\n", killer_body     # it did run
    assert victim_body["status"] == "ok" and victim_body["stdout"] == "survived\n", victim_body


def test_descriptor_limit(api, sid):
    body = api.run_py(sid, r'''
        import os
        fds = []
        try:
            while len(fds) < 100000:
                fds.append(os.open("/dev/null", os.O_RDONLY))
        except OSError as e:
            print("stopped at", len(fds), e.strerror)
    ''')
    assert body["status"] == "ok", body
    assert body["stdout"].startswith("stopped at ") and "Too many open files" in body["stdout"], body
    assert int(body["stdout"].split()[2]) < 4096, body
