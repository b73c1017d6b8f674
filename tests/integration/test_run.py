"""POST /run: a shell command in the session's files, inside the sandbox."""

import base64
import concurrent.futures
import time


CANARY = "canary-6b1f0c2e"   # tests/lib/stack.py starts every component with it


def check_shape(body, sid):
    assert body["id"] == sid
    for k in ("stdout", "stderr", "status"):
        assert isinstance(body[k], str), (k, body)
    for k in ("exit_code", "time_ms", "memory_kb"):
        assert isinstance(body[k], int) and not isinstance(body[k], bool), (k, body)
    assert body["time_ms"] >= 0 and body["memory_kb"] >= 0
    assert isinstance(body["truncated"], bool)
    if "cpu_ms" in body:
        assert isinstance(body["cpu_ms"], int) and body["cpu_ms"] >= 0
    assert body["status"] in ("ok", "runtime_error", "timeout", "memory_limit",
                              "output_limit", "internal_error")


def test_run_echo(api, sid):
    api.write(sid, "x.txt", "x")
    body = api.run(sid, "echo out; echo err >&2")
    check_shape(body, sid)
    assert body["stdout"] == "out\n"
    assert body["stderr"] == "err\n"
    assert body["exit_code"] == 0
    assert body["status"] == "ok"
    assert body["truncated"] is False


def test_run_python3_script(api, sid):
    api.write(sid, "example.py", "import sys\nprint('Hello, World!')\nprint('é', file=sys.stderr)\n")
    body = api.run(sid, "python3 example.py")
    assert body["stdout"] == "Hello, World!\n", body
    assert body["stderr"] == "é\n"
    assert body["status"] == "ok"


def test_run_exit_code_and_signal(api, sid):
    api.write(sid, "x.txt", "x")
    body = api.run(sid, "echo partial; exit 3")
    check_shape(body, sid)
    assert body["exit_code"] == 3
    assert body["status"] == "runtime_error"
    assert body["stdout"] == "partial\n"
    body = api.run(sid, "kill -9 $$")
    assert body["exit_code"] != 0
    assert body["status"] == "runtime_error"


def test_run_stdin(api, sid):
    api.write(sid, "x.txt", "x")
    body = api.run(sid, "cat; echo; wc -l < x.txt", stdin="line1\nline2 ü\n")
    assert body["stdout"].startswith("line1\nline2 ü\n"), body
    body = api.run(sid, "python3 -c 'import sys; print(sum(int(l) for l in sys.stdin))'",
                   stdin="1\n2\n39\n")
    assert body["stdout"] == "42\n", body


def test_run_without_stdin_does_not_wait(api, sid):
    api.write(sid, "x.txt", "x")
    body = api.run(sid, "cat; echo done", timeout=10)
    assert body["status"] == "ok", body
    assert body["stdout"] == "done\n"


def test_run_sees_session_files(api, sid):
    api.write(sid, "data/in.txt", "from the session\n")
    api.write(sid, "top.txt", "t")
    body = api.run(sid, "cat data/in.txt; ls; ls data")
    assert body["stdout"] == "from the session\ndata\ntop.txt\nin.txt\n", body


def test_run_changes_are_saved(api, sid):
    api.write(sid, "gone.txt", "delete me")
    api.write(sid, "keep.txt", "keep")
    api.write(sid, "change.txt", "before")
    api.write(sid, "dir/inner.txt", "inner")
    body = api.run(sid, "rm gone.txt; echo new > new.txt; echo after > change.txt; "
                        "mkdir -p made/deeper && printf 'x' > made/deeper/f.txt; "
                        "rm -r dir; printf '\\000\\377' > bin.dat")
    assert body["status"] == "ok", body
    api.error(api.read(sid, "gone.txt"), 404, "not_found")
    api.error(api.read(sid, "dir/inner.txt"), 404, "not_found")
    assert api.content(sid, "keep.txt") == "keep"
    assert api.content(sid, "new.txt") == "new\n"
    assert api.content(sid, "change.txt") == "after\n"
    assert api.content(sid, "made/deeper/f.txt") == "x"
    api.error(api.read(sid, "bin.dat"), 400, "not_utf8")
    assert base64.b64decode(api.content(sid, "bin.dat", encoding="base64")) == b"\x00\xff"
    # and the next run sees the saved state
    body = api.run(sid, "ls -R | sort; cat change.txt")
    assert "gone.txt" not in body["stdout"] and "new.txt" in body["stdout"]
    assert body["stdout"].endswith("after\n")


def test_run_timeout(api, sid):
    api.write(sid, "x.txt", "x")
    body = api.run(sid, "echo before; echo saved > t.txt; sleep 30", timeout=1)
    check_shape(body, sid)
    assert body["status"] == "timeout", body
    assert body["stdout"] == "before\n"
    # files written before the timeout are kept
    assert api.content(sid, "t.txt") == "saved\n"


def test_run_timeout_kills_the_whole_tree(api, sid):
    # Background processes that ignore SIGTERM and hold stdout open: the
    # answer must still come right after the timeout, not when they end.
    api.write(sid, "x.txt", "x")
    r = api.post("/run", {"id": sid, "timeout": 1,
                          "cmd": "(trap '' TERM HUP; sleep 90) & (sleep 90 &); sleep 90"},
                 timeout=45)
    body = api.ok(r)
    assert body["status"] == "timeout", body


def test_run_output_is_capped(api, sid, limits):
    api.write(sid, "x.txt", "x")
    cap = limits["output_max_bytes"]
    body = api.run(sid, "head -c %d /dev/zero | tr '\\0' a; echo tail >&2" % (3 * cap))
    check_shape(body, sid)
    assert body["truncated"] is True
    assert 0 < len(body["stdout"].encode()) <= cap
    assert set(body["stdout"]) == {"a"}
    assert body["status"] in ("ok", "output_limit")


def test_run_binary_output_is_still_json(api, sid):
    api.write(sid, "x.txt", "x")
    body = api.run(sid, "printf 'ok\\377\\376\\000end'")
    assert isinstance(body["stdout"], str)
    assert body["stdout"].startswith("ok")


def test_run_environment_is_clean(api, sid):
    api.write(sid, "x.txt", "x")
    body = api.run(sid, "env")
    assert body["status"] == "ok"
    assert CANARY not in body["stdout"]
    assert "EVALD_TEST_CANARY" not in body["stdout"]


def test_run_cannot_reach_the_network(api, sid, stack):
    api.write(sid, "x.txt", "x")
    code = ("import socket\n"
            "try:\n"
            "    socket.create_connection(('127.0.0.1', %d), 2)\n"
            "    print('connected')\n"
            "except OSError as e:\n"
            "    print('refused', e)\n" % stack.redis_port)
    api.write(sid, "net.py", code)
    body = api.run(sid, "python3 net.py")
    assert "connected" not in body["stdout"], body
    assert CANARY not in body["stdout"]


def test_run_memory_exhaustion(api, sid):
    api.write(sid, "x.txt", "x")
    body = api.run(sid, "python3 -c 'a = bytearray(64 << 30); print(len(a))'", timeout=20)
    assert body["exit_code"] != 0, body
    assert body["status"] in ("runtime_error", "memory_limit"), body


def test_run_symlinks_are_kept_and_not_followed(api, sid):
    api.write(sid, "real.txt", "secret\n")
    body = api.run(sid, "ln -s /etc/passwd abs; ln -s real.txt rel; ln -s ../../.. up")
    assert body["status"] == "ok", body
    for link in ("abs", "rel", "up"):
        r = api.read(sid, link)
        assert 400 <= r.status_code < 500, (link, r.status_code, r.text[:200])
        assert "root:" not in r.text and "secret" not in r.text
        api.error(r, 400, "is_symlink")
    assert api.content(sid, "real.txt") == "secret\n"
    # still links on the next run
    body = api.run(sid, "readlink abs; readlink rel; cat rel")
    assert body["stdout"] == "/etc/passwd\nreal.txt\nsecret\n", body


def test_write_over_a_symlink_does_not_write_through(api, sid):
    api.write(sid, "real.txt", "secret\n")
    api.run(sid, "ln -s real.txt rel")
    r = api.post("/write_file", {"id": sid, "rel_path": "rel", "content": "overwritten"})
    assert r.status_code in (200, 400), r.text
    assert api.content(sid, "real.txt") == "secret\n"


def test_run_unknown_session_is_400(api, sid, snapshot):
    before = snapshot()
    r = api.post("/run", {"id": sid, "cmd": "echo hi > made.txt"})
    api.error(r, 400, "no_session")
    assert snapshot() == before


def test_run_after_fork_is_isolated(api, sid):
    api.write(sid, "a.txt", "a")
    new = api.ok(api.post("/fork_session", {"id": sid}))["new_id"]
    body = api.run(new, "echo x > fork-only.txt; rm a.txt; ls")
    assert body["stdout"] == "fork-only.txt\n"
    assert api.content(sid, "a.txt") == "a"
    api.error(api.read(sid, "fork-only.txt"), 404, "not_found")
    body = api.run(sid, "ls")
    assert body["stdout"] == "a.txt\n"


def test_run_validation(api, sid):
    api.write(sid, "x.txt", "x")
    api.error(api.post("/run", {"id": sid}), 422, "validation_error", "cmd")
    api.error(api.post("/run", {"id": sid, "cmd": ["ls"]}), 422, "validation_error", "cmd")
    api.error(api.post("/run", {"id": sid, "cmd": "ls", "timeout": "soon"}),
              422, "validation_error", "timeout")
    api.error(api.post("/run", {"id": sid, "cmd": "ls", "stdin": 5}),
              422, "validation_error", "stdin")


def test_symlinks_survive_rename_fork_and_delete(api, sid):
    api.write(sid, "real.txt", "secret\n")
    api.run(sid, "ln -s real.txt rel; ln -s /etc etc-link")
    api.ok(api.post("/rename_file", {"id": sid, "old_path": "rel", "new_path": "moved/rel2"}))
    new = api.ok(api.post("/fork_session", {"id": sid}))["new_id"]
    for s in (sid, new):
        body = api.run(s, "readlink moved/rel2; readlink etc-link; ls")
        # the link moved as it is: its target text did not change
        assert body["stdout"] == "real.txt\n/etc\netc-link\nmoved\nreal.txt\n", body
    api.ok(api.post("/delete_file", {"id": sid, "rel_path": "etc-link"}))
    assert api.content(sid, "real.txt") == "secret\n"
    body = api.run(sid, "ls")
    assert "etc-link" not in body["stdout"]


def test_paths_through_a_symlinked_directory(api, sid, stack):
    """A file route never goes through a link the command made: not to read
    a host file, and not to write one when the session is materialised."""
    api.write(sid, "x.txt", "x")
    api.run(sid, "ln -s /etc etc-link; ln -s %s host-link" % stack.dir)
    r = api.read(sid, "etc-link/passwd")
    assert 400 <= r.status_code < 500 and "root:" not in r.text, r.text[:200]
    marker = "pwned-%s.txt" % sid
    r = api.post("/write_file", {"id": sid, "rel_path": "host-link/" + marker, "content": "x"})
    assert r.status_code in (200, 400, 404, 409), r.text
    api.run(sid, "ls -la host-link/ > /dev/null 2>&1; true")
    assert not (stack.dir / marker).exists()
    assert not list(stack.dir.rglob(marker))


# The shell is started before its job and reads the command as its script
# (sandbox.c, shell_ahead); to the command it must be `/bin/sh -c cmd`.

def test_run_the_shell_is_sh_c(api, sid):
    api.write(sid, "x.txt", "x")
    body = api.run(sid, 'echo "$0|$#|$PWD|${OLDPWD-none}|$(pwd)"; env | grep -c "^OLDPWD="; '
                        'nosuchcmd; echo "rc=$?"')
    assert body["stdout"] == "sh|0|/work|none|/work\n0\nrc=127\n", body
    assert body["stderr"] == "sh: 1: nosuchcmd: not found\n", body


def test_run_syntax_errors_name_the_commands_own_lines(api, sid):
    api.write(sid, "x.txt", "x")
    body = api.run(sid, "echo a\necho b\nif")
    assert body["stdout"] == "a\nb\n", body
    assert body["stderr"] == 'sh: 3: Syntax error: end of file unexpected (expecting "then")\n'
    assert body["exit_code"] == 2 and body["status"] == "runtime_error"
    # a first line that does not parse runs nothing of it
    body = api.run(sid, "echo a; fi")
    assert body["stdout"] == "", body
    assert body["stderr"] == 'sh: 1: Syntax error: "fi" unexpected\n'
    assert body["exit_code"] == 2


def test_run_the_command_inherits_only_its_descriptors(api, sid):
    api.write(sid, "x.txt", "x")
    body = api.run(sid, "echo $(ls /proc/$$/fd); python3 -c 'import os; print(os.listdir(\"/proc/self/fd\"))'")
    shell, child = body["stdout"].splitlines()
    # the shell's: 0-2, 3 (the $(...) it reads), and its script's (10,
    # close-on-exec), never the descriptor it opened the script through
    assert set(shell.split()) <= {"0", "1", "2", "3", "10"}, body
    assert sorted(eval(child)) == ["0", "1", "2", "3"], body     # 3: listdir's own


def test_run_cpu_limit_is_the_jobs(api, sid):
    api.write(sid, "x.txt", "x")
    body = api.run(sid, "ulimit -t; ulimit -Ht", timeout=2)
    assert body["stdout"] == "3\n3\n", body        # ceil(timeout) + 1 s


def test_run_long_command(api, sid):
    """A command longer than execve takes in one argument (128 KiB) runs;
    one whose first line sleeps before the shell reads the rest still ends
    at its timeout (init is not left writing it)."""
    api.write(sid, "x.txt", "x")
    pad = ": " + "x" * 300000 + "\n"
    body = api.run(sid, pad + "echo done", timeout=10)
    assert body["stdout"] == "done\n" and body["status"] == "ok", body["stderr"][:300]
    r = api.post("/run", {"id": sid, "cmd": "echo before; sleep 90\n" + pad + "echo after",
                          "timeout": 1}, timeout=45)
    body = api.ok(r)
    assert body["status"] == "timeout" and body["stdout"] == "before\n", body


# ------------------------------------- the session changed while a run runs

def run_while_changing(api, stack, sid, cmd, change):
    """Runs cmd (it sleeps 3 s first) and calls change() once a slot has
    taken the job and read the session's files, so that the run starts from
    the session as it was and change() lands while the command sleeps.
    Returns the run's answer."""
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        fut = ex.submit(api.run, sid, "sleep 3; " + cmd, timeout=20)
        deadline = time.monotonic() + 30
        while not any(stack.redis("LLEN", key) for key in stack.redis("KEYS", "evald:proc:*")):
            assert time.monotonic() < deadline and not fut.done(), "no slot took the job"
            time.sleep(0.02)
        time.sleep(0.5)   # the slot reads the session as soon as it has the job
        change()
        body = fut.result()
    assert body["status"] == "ok", body
    return body


def test_a_directory_the_run_deletes_keeps_what_was_written_in_it_meanwhile(api, stack, sid):
    """The run's changes are applied over the session as it is when the run
    ends: what the API wrote meanwhile stays, and a directory the run
    deleted stays as long as something was written in it meanwhile. (It
    used to go, leaving dir/new.txt without its directory: a later write of
    a file 'dir' was then taken, and the next run lost dir/new.txt.)"""
    api.write(sid, "dir/a.txt", "a")
    api.write(sid, "keep.txt", "k")

    def change():
        api.write(sid, "dir/new.txt", "n")
        api.write(sid, "other.txt", "o")

    run_while_changing(api, stack, sid, "rm -rf dir; echo run > mine.txt", change)
    assert api.content(sid, "dir/new.txt") == "n"
    api.error(api.read(sid, "dir/a.txt"), 404)
    assert api.content(sid, "other.txt") == "o"
    assert api.content(sid, "mine.txt") == "run\n"
    assert api.content(sid, "keep.txt") == "k"
    api.error(api.post("/write_file", json={"id": sid, "rel_path": "dir", "content": "x"}),
              400, "is_directory")
    listing = api.run(sid, "find . | sort")["stdout"].split()
    assert listing == [".", "./dir", "./dir/new.txt", "./keep.txt", "./mine.txt", "./other.txt"]
    assert api.content(sid, "dir/new.txt") == "n"


def test_a_file_the_run_makes_replaces_a_directory_written_meanwhile(api, stack, sid):
    """The run made 'd' a file: what the API wrote under 'd' meanwhile goes,
    so that the session never holds a file and entries under it."""
    api.write(sid, "d/a.txt", "a")
    run_while_changing(api, stack, sid, "rm -rf d; echo file > d",
                       lambda: api.write(sid, "d/new.txt", "n"))
    assert api.content(sid, "d") == "file\n"
    api.error(api.read(sid, "d/new.txt"), 404)
    assert api.run(sid, "find . | sort; cat d")["stdout"].split() == [".", "./d", "file"]


def test_a_file_the_run_writes_gets_its_directory_back(api, stack, sid):
    """The API deleted 'p' and wrote a file 'p' while the run wrote p/f in
    the directory it had: the run's file is kept, and 'p' is a directory
    again."""
    api.write(sid, "p/old.txt", "old")

    def change():
        api.ok(api.post("/delete_file", json={"id": sid, "rel_path": "p"}))
        api.write(sid, "p", "api")

    run_while_changing(api, stack, sid, "echo run > p/f", change)
    assert api.content(sid, "p/f") == "run\n"
    api.error(api.read(sid, "p/old.txt"), 404)
    api.error(api.read(sid, "p"), 400, "is_directory")
    assert api.run(sid, "find . | sort")["stdout"].split() == [".", "./p", "./p/f"]
