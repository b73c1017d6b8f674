"""evald's autograder harness: grades one submission inside the sandbox.

Run as `/usr/bin/python3 -I -S /run/evald/grade.pyc` with the job's work
directory (an empty writable tmpfs, /work) as cwd. The executor may start it
before its job exists, so everything slow is done before stdin is read:
pytest is imported at load, and the zygote (below) builds its pytest
configuration while the master waits for the request.

Protocol
  stdin  one JSON object, read to end of file:
         {"source": str, "filename": str, "time_s": number, "memory_mb": int,
          "output_max": int, "files": {relative path: str},
          "pytest": [{"id": int, "file": relative path, "source": str}, ...],
          "stdio": [{"id": int, "stdin": str}, ...]}
         time_s and memory_mb are the limits of each test process (and of
         the load check); output_max is how much of a stdio program's stdout
         is kept. files are the teacher's support files, written under the
         work directory (their .py files and conftest.py files also run
         from memory, see below). filename is the name the student gave the
         file; messages say "your code" instead, line numbers being what
         they need.
  fd 3   exactly one JSON document (UTF-8), then fd 3 is closed; fd 1 when
         fd 3 is not open (run by hand):
         {"submission": str, "notebook": bool,
          "load": {"ok": bool, "error": str|null, "line": int|null},
          "pytest": [{"id", "error": str|null,
                      "tests": [{"name": node id, "points": number,
                                 "status": "passed"|"failed"|"error"|"timeout",
                                 "message": str}]}],
          "stdio": [{"id", "status": "ok"|"runtime_error"|"timeout"|
                     "memory_limit"|"output_limit", "exit_code": int|null,
                     "stdout_b64": str, "truncated": bool, "error": str|null}]}
         Every id of the request appears exactly once. A malformed request
         is answered too, with load.ok false and an error "internal: ...".
         Scores, and the comparison of stdio output, are the executor's
         (grade.c): nothing here decides a grade but a test's status.

The submission
  A marimo notebook (it parses, imports marimo and assigns
  `app = marimo.App(...)` at top level) becomes the module made of its setup
  cell's body (dedented), its @app.function functions and its
  @app.class_definition classes, those decorators removed, in file order;
  every other line is blanked, so line numbers stay the student's. Any
  other file is used as it is. The text is written to /work/submission.py
  and answered as "submission" (the executor's io tests run it).

Processes
  master   reads the request, writes /work, runs the load check and the
           stdio programs (fork + exec of a fresh interpreter each), and
           drives the pytest files through the zygote. It never runs the
           student's code, holds every test source, and is not dumpable
           (prctl(PR_SET_DUMPABLE, 0)), so no other process of the sandbox
           user can open its /proc/<pid>/fd or /mem.
  zygote   forked by the master before the request is read, so its memory
           holds no test source; it builds the pytest session once, then
           for each pytest file receives that file alone (into a buffer it
           zeroes afterwards), forks a session process for it and relays the
           session's framed reports to the master. Never runs student code.
  session  one per pytest file, a fork of the zygote: compiles the test file
           from memory with pytest's assertion rewriting (it is never written
           to disk), registers the teacher's conftest.py files on the way to
           it (from the request, in memory) and collects it with `submission`
           a stub module whose every attribute is a harmless placeholder
           class, the .py support files served from memory and the work
           directory off sys.path: no code the student wrote or could have
           changed runs here. That collection is the trusted list of rows and
           points. It then forks one test process per row, holds its
           wall-clock limit, kills its process group, checks its record and
           reports to the master. (Only when the file cannot be collected
           against the stub, e.g. it iterates over something of the
           submission at import, is the list taken from a collection with the
           real submission, in a child under the test limits: that list is
           only as trustworthy as the student's code.)
  test     a fork of the session: keeps only its record pipe (moved to a
           random descriptor number) and /dev/null on 0-2, its own process
           group, RLIMIT_CPU = ceil(time_s) + 1 s and RLIMIT_AS = its address
           space at the fork + memory_mb (the harness's own footprint is not
           charged to the student; a hard limit 32 MiB above is taken back to
           report a MemoryError), wall clock time_s. It builds the reporter
           (a closure holding the descriptor, a per-test random nonce and
           C-level functions) before any student code runs; the session
           draws the nonce after the fork and hands it over on a one-shot
           pipe, so no frame or variable the process inherited holds it.
           It then imports the real submission, runs the conftest files and
           collects the path to its node id again (fresh module state for
           every test; the import counts against time_s), runs that one
           item through pytest's own protocol and sends one record:
           "R" + 4-byte length + {"n": nonce, "s": status, "m": message}.
  load     `python3 -I -B -c <bootstrap>`: imports the submission under the
           test limits and reports on a pipe at a random descriptor. Failing
           it fails every row without running it. Not run when the request
           has stdio tests and no pytest file: a stdio program reads its
           input at the top level, and is judged by running it with that
           input (a syntax error still fails everything).
  stdio    `python3 -I /work/submission.py`, stdin from the request, stdout
           kept up to output_max (drained and dropped beyond, killed past
           4 x output_max), the tail of stderr for the error.
  Every process that runs student code gets PR_SET_PDEATHSIG and its own
  process group, killed when it is done; one that leaves its group
  (setsid) lives until the sandbox ends.

Tamper resistance
  Stopped: reading the test files from disk (never written, not even when
  also listed as support files); reading other pytest files' sources from
  memory (a test's process descends from a zygote that only ever held its
  own file); reaching the master's fd 3, the zygote's or the session's
  pipes, or another test's record pipe (closed in every student process;
  /proc/<pid>/fd of the harness processes is closed by PR_SET_DUMPABLE 0,
  ptrace and pidfd_getfd by seccomp); a test passing by ending early
  (os._exit, sys.exit or SystemExit, a signal, a crash: no record is an
  error, SystemExit in a test is an error); fake results written to every
  descriptor or printed (output goes to /dev/null; a record without the
  nonce, a second record or trailing bytes fail the test as "tampered");
  one test's hang, memory or output hurting another (own process, own
  limits, wall clock kept by the session, the master a backstop that kills
  both when the session stops answering); student code running where rows
  and points are decided (master, zygote, sessions: pytest reads nothing
  from the work directory, no pytest.ini, conftest.py or plugin there);
  replacing a .py support file or conftest.py on disk (they run from
  memory).
  Still possible for a determined student, whose code runs inside the
  test's own process before the test: patch pytest, the test module or
  builtins there (an object whose __eq__ always says True passes an ==
  assert; a patched pytest can report anything); dig the nonce out of the
  reporter's closure (gc), write a forged record and os._exit (the nonce
  stops blind forgery and frame walking, not that); read that pytest
  file's source (its code objects, its expected values) from memory;
  rewrite the data files on disk that tests read at run time. Any process of the sandbox
  user can signal the others: a student that kills or stops a session or
  the zygote fails the remaining tests (never passes them); one that kills
  the master leaves no answer, and the executor reports the grade failed.
"""

import sys

if "/usr/lib/python3/dist-packages" not in sys.path:
    sys.path.append("/usr/lib/python3/dist-packages")

import ast
import base64
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import io
import json
import os
import pathlib
import random
import resource
import select
import signal
import time
import tokenize
import types
import _json

try:
    # What `-S` left out: site-packages dirs and their .pth files, and the
    # exit()/quit() builtins a student's code may call. Root-owned files.
    import site
    site.main()
except Exception:
    pass

try:
    import pytest
    import _pytest.assertion.rewrite
    _PYTEST_ERROR = None
except Exception as _e:           # the answer says so for every pytest file
    pytest = None
    _PYTEST_ERROR = "pytest cannot be imported: %s: %s" % (type(_e).__name__, _e)

sys.dont_write_bytecode = True

MODULE = "submission"
SUBMISSION_FILE = "submission.py"
DEFAULT_TIME_S = 10.0
DEFAULT_MEMORY_MB = 256
DEFAULT_OUTPUT_MAX = 65536
MAX_TIME_S = 3600.0
MESSAGE_MAX = 2000                # characters of a test's message
STDERR_TAIL = 8192                # bytes of a stdio program's stderr kept
AS_MARGIN = 32 << 20              # address space given back to report a MemoryError
MAX_FRAME = 64 << 20              # largest frame between harness processes
MAX_RECORD = 64 << 10             # largest record a test process may send
MAX_LISTING = 16 << 20            # largest list of tests a collection child may send
MAX_DOC = 60 << 20                # the executor reads at most 64 MiB from fd 3
MAX_PREIMPORT = 16                # third-party packages a session imports ahead
BACKSTOP_S = 5.0                  # how long the master waits beyond a test's limit
IDLE_S = 10.0                     # longest pause of a session between two reports
GRACE_S = 0.2                     # reading a test's pipe after it exited
STDIO_BASE = 16 << 20             # a fresh interpreter's address space, when not measured

EXIT_NO_MEMORY = 121              # test process: out of memory while reporting
EXIT_INTERNAL = 122               # test process: the harness itself failed

_SIGNAMES = {1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP",
             6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1",
             11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM",
             15: "SIGTERM", 24: "SIGXCPU", 25: "SIGXFSZ", 31: "SIGSYS"}

# pytest as the sessions run it: nothing read from the work directory (no
# ini file, no conftest.py, no plugin found by entry point), nothing written
# (no cache), output captured by nobody (it goes to /dev/null).
_PYTEST_ARGS = ["-q", "-c", "/dev/null", "--noconftest", "--capture=no", "--tb=short",
                "-p", "no:cacheprovider", "-p", "no:stepwise", "-p", "no:faulthandler",
                "-p", "no:pastebin", "-p", "no:junitxml", "-p", "no:doctest"]


# ------------------------------------------------------------- plumbing

def _write_all(fd, data):
    mv = memoryview(data)
    while mv:
        mv = mv[os.write(fd, mv):]


def _read_exact(fd, n):
    """n bytes from a blocking fd, or None at end of file."""
    chunks = []
    while n > 0:
        b = os.read(fd, min(n, 1 << 20))
        if not b:
            return None
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def _readinto_exact(fd, buf, n):
    mv = memoryview(buf)
    try:
        got = 0
        while got < n:
            k = os.readv(fd, [mv[got:n]])
            if k == 0:
                return False
            got += k
        return True
    finally:
        mv.release()


def _frame(obj):
    data = json.dumps(obj, separators=(",", ":")).encode("ascii")
    return len(data).to_bytes(8, "big") + data


def _fd_is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def _devnull_stdio():
    """Point 0, 1 and 2 at /dev/null."""
    fd = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(fd, target)
    if fd > 2:
        os.close(fd)


def _max_fd():
    try:
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (OSError, ValueError):
        soft = 1024
    if soft == resource.RLIM_INFINITY or soft > 65536:
        soft = 65536
    return max(soft, 16)


def _prctl(option, arg):
    """prctl(option, arg); False when it is not available."""
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True).prctl(option, arg, 0, 0, 0) == 0
    except Exception:
        return False


def _make_undumpable():
    """prctl(PR_SET_DUMPABLE, 0): no other process of this uid may open
    /proc/<pid>/fd or /proc/<pid>/mem of this process or of its forks."""
    _prctl(4, 0)


def _die_with_parent():
    _prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG


def _pidfd(pid):
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _try_wait(pid):
    """The wait status of the child pid if it has ended, else None. What is
    left of its process group is killed before it is reaped (while it is a
    zombie its number cannot name another group). A child already reaped
    counts as killed by SIGKILL."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return signal.SIGKILL
    if info is None:
        return None
    _kill_group(pid)
    return _wait(pid)


def _wait(pid):
    """The wait status of the child pid, waiting for it to end."""
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:
        return signal.SIGKILL


def _kill_group(pid):
    """SIGKILL pid's process group, and pid itself should it have left it."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _set_limit(res, soft, hard):
    """Lower a limit to (soft, hard), never above the current hard limit.
    Returns the pair set, or None."""
    try:
        cur_hard = resource.getrlimit(res)[1]
        if cur_hard != resource.RLIM_INFINITY:
            hard = min(hard, cur_hard)
        soft = min(soft, hard)
        resource.setrlimit(res, (soft, hard))
        return soft, hard
    except (OSError, ValueError):
        return None


def _cpu_seconds(time_s):
    cpu = int(time_s)
    if cpu < time_s:
        cpu += 1
    return cpu + 1


def _address_space():
    """This process's address space in bytes (VmSize), or 0."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _ended(status):
    """How a wait status ended: ("exit", code) or ("signal", signum)."""
    if os.WIFSIGNALED(status):
        return "signal", os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return "exit", os.WEXITSTATUS(status)
    return "exit", -1


def _signame(sig):
    return _SIGNAMES.get(sig, "signal %d" % sig)


def _cut(s, limit=MESSAGE_MAX):
    if len(s) > limit:
        return s[:limit - 4] + " ..."
    return s


# ------------------------------------------------------------- requests

class _BadRequest(Exception):
    pass


def _rel_path(p, what):
    """p as a normalised relative path ("a/b.py"); _BadRequest otherwise."""
    if type(p) is not str or not p or "\0" in p or "\\" in p:
        raise _BadRequest("%s is not a relative path: %r" % (what, p))
    if p.startswith("/"):
        raise _BadRequest("%s is an absolute path: %r" % (what, p))
    parts = [c for c in p.split("/") if c not in ("", ".")]
    if not parts or ".." in parts:
        raise _BadRequest("%s must stay inside the work directory: %r" % (what, p))
    return "/".join(parts)


def _number(req, key, default, lo, hi, integer):
    v = req.get(key, default)
    if v is None:
        v = default
    if type(v) not in (int, float) or v != v or not lo <= v <= hi:
        raise _BadRequest("%s must be a number from %g to %g" % (key, lo, hi))
    if integer:
        if v != int(v):
            raise _BadRequest("%s must be a whole number" % key)
        return int(v)
    return float(v)


def _test_id(entry, seen):
    i = entry.get("id")
    if type(i) not in (int, str) or i in seen:
        raise _BadRequest("every test needs an id of its own (got %r)" % (i,))
    seen.add(i)
    return i


def _parse_request(raw):
    """The validated request as a dict; _BadRequest says what is wrong."""
    try:
        req = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise _BadRequest("the request on stdin is not valid JSON") from None
    if type(req) is not dict:
        raise _BadRequest("the request on stdin is not a JSON object")
    if type(req.get("source")) is not str:
        raise _BadRequest("source must be a string")
    fn = req.get("filename", SUBMISSION_FILE)
    if type(fn) is not str:
        raise _BadRequest("filename must be a string")
    out = {"source": req["source"], "filename": fn,
           "time_s": _number(req, "time_s", DEFAULT_TIME_S, 0.001, MAX_TIME_S, False),
           "memory_mb": _number(req, "memory_mb", DEFAULT_MEMORY_MB, 1, 1 << 20, True),
           "output_max": _number(req, "output_max", DEFAULT_OUTPUT_MAX, 0, 1 << 30, True)}
    files = req.get("files") or {}
    if type(files) is not dict:
        raise _BadRequest("files must be an object of path: text")
    out["files"] = {}
    for p, text in files.items():
        rp = _rel_path(p, "a support file's path")
        if rp == SUBMISSION_FILE:
            raise _BadRequest("a support file may not be named %s" % SUBMISSION_FILE)
        if type(text) is not str:
            raise _BadRequest("support file %r is not text" % p)
        if rp in out["files"]:
            raise _BadRequest("support file %r is given twice" % p)
        out["files"][rp] = text
    seen = set()
    out["pytest"] = []
    py = req.get("pytest") or []
    if type(py) is not list:
        raise _BadRequest("pytest must be a list")
    for e in py:
        if type(e) is not dict:
            raise _BadRequest("a pytest entry is not an object")
        i = _test_id(e, seen)
        if type(e.get("source")) is not str:
            raise _BadRequest("pytest entry %r has no source" % (i,))
        f = _rel_path(e.get("file"), "pytest entry %r's file" % (i,))
        if not f.endswith(".py") or "::" in f or "[" in f:
            raise _BadRequest("pytest entry %r's file must end in .py and hold no '::' or "
                              "'['" % (i,))
        out["pytest"].append({"id": i, "file": f, "source": e["source"]})
    out["stdio"] = []
    st = req.get("stdio") or []
    if type(st) is not list:
        raise _BadRequest("stdio must be a list")
    for e in st:
        if type(e) is not dict:
            raise _BadRequest("a stdio entry is not an object")
        i = _test_id(e, seen)
        stdin = e.get("stdin", "")
        if stdin is None:
            stdin = ""
        if type(stdin) is not str:
            raise _BadRequest("stdio entry %r's stdin is not text" % (i,))
        out["stdio"].append({"id": i, "stdin": stdin})
    return out


def _salvage_ids(raw):
    """The pytest and stdio ids of a request that failed validation, so that
    the answer still names each of them once where that is possible."""
    try:
        req = json.loads(raw.decode("utf-8"))
        seen, py, st = set(), [], []
        for key, out in (("pytest", py), ("stdio", st)):
            for e in req.get(key) or []:
                i = e.get("id")
                if type(i) in (int, str) and i not in seen:
                    seen.add(i)
                    out.append(i)
        return py, st
    except Exception:
        return [], []


# ----------------------------------------------------------- submission

def _lines(text):
    """text split after each "\\n" (what the compiler counts as lines)."""
    parts = text.split("\n")
    out = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def _is_attr(node, bases, attr):
    return (isinstance(node, ast.Attribute) and node.attr == attr and
            isinstance(node.value, ast.Name) and node.value.id in bases)


def _is_app_call(node, apps, attr):
    """node is `app.attr` or `app.attr(...)` for an app name in apps."""
    if isinstance(node, ast.Call):
        node = node.func
    return _is_attr(node, apps, attr)


def _string_interiors(source):
    """Line numbers inside a token that spans lines (a triple-quoted string):
    their indentation is part of the string and must not change."""
    rows = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.end[0] > tok.start[0] and tok.type not in (tokenize.NL, tokenize.NEWLINE):
                rows.update(range(tok.start[0] + 1, tok.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        pass
    return rows


def _marimo_module(source, tree):
    """(module text, True) when tree is a marimo notebook, else (source, False).

    Kept lines are copied (the setup body dedented) and every other line is
    blanked, so that line n of the module is line n of the student's file."""
    marimo_names, apps = set(), set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "marimo":
                    marimo_names.add(a.asname or "marimo")
    if not marimo_names:
        return source, False
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and
                _is_attr(node.value.func, marimo_names, "App")):
            apps.update(t.id for t in node.targets if isinstance(t, ast.Name))
    if not apps:
        return source, False

    lines = _lines(source)
    out = ["\n" if ln.endswith("\n") else "" for ln in lines]
    interiors = None
    for node in tree.body:
        if (isinstance(node, ast.With) and len(node.items) == 1 and
                _is_app_call(node.items[0].context_expr, apps, "setup") and node.body):
            if interiors is None:
                interiors = _string_interiors(source)
            first, last = node.body[0].lineno, node.body[-1].end_lineno
            line = lines[first - 1]
            indent = line[:len(line) - len(line.lstrip(" \t"))]
            for n in range(first, last + 1):
                ln = lines[n - 1]
                if n in interiors:
                    out[n - 1] = ln
                elif ln.startswith(indent):
                    out[n - 1] = ln[len(indent):]
                else:
                    out[n - 1] = ln.lstrip(" \t")
            # `import marimo as mo` in the setup cell (marimo's own default)
            # is dropped: marimo is not installed where grading runs
            for stmt in node.body:
                if ((isinstance(stmt, ast.Import) and
                     all(a.name.split(".")[0] == "marimo" for a in stmt.names)) or
                        (isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and
                         (stmt.module or "").split(".")[0] == "marimo")):
                    for n in range(stmt.lineno, stmt.end_lineno + 1):
                        out[n - 1] = "\n" if lines[n - 1].endswith("\n") else ""
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            want = "class_definition" if isinstance(node, ast.ClassDef) else "function"
            marks = [d for d in node.decorator_list if _is_app_call(d, apps, want)]
            if not marks:
                continue
            first = min(d.lineno for d in node.decorator_list)
            for n in range(first, node.end_lineno + 1):
                out[n - 1] = lines[n - 1]
            for d in marks:
                for n in range(d.lineno, d.end_lineno + 1):
                    out[n - 1] = "\n" if lines[n - 1].endswith("\n") else ""
    return "".join(out), True


def _syntax_error(e):
    line = getattr(e, "lineno", None)
    if type(line) is not int:
        line = None
    msg = getattr(e, "msg", None) or str(e)
    if line is None:
        return "SyntaxError: %s" % msg, None
    return "SyntaxError on line %d: %s" % (line, msg), line


def _prepare_submission(source):
    """(module text, notebook, load error or None, error line or None)."""
    try:
        tree = compile(source, SUBMISSION_FILE, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError, UnicodeError) as e:
        err, line = _syntax_error(e)
        return source, False, err, line
    text, notebook = _marimo_module(source, tree)
    if notebook:
        try:
            compile(text, SUBMISSION_FILE, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        except (SyntaxError, ValueError) as e:
            err, line = _syntax_error(e)
            return text, True, err, line
    return text, notebook, None, None


def _third_party_imports(text):
    """Modules text imports from packages that are neither in the standard
    library nor the submission (`import a.b` gives a.b, `from a import b`
    gives a and a.b, which may be a submodule): a session imports them
    ahead, from the system's directories only, so that each test does not
    pay for them."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    std = getattr(sys, "stdlib_module_names", frozenset())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mods = [node.module] + [node.module + "." + a.name for a in node.names
                                    if a.name != "*"]
        else:
            continue
        for m in mods:
            top = m.split(".")[0]
            if top and top not in std and top != MODULE and m not in names:
                names.append(m)
    return names[:MAX_PREIMPORT]


def _write_file(work, rel, text):
    path = os.path.join(work, rel)
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    data = text.encode("utf-8", "surrogatepass")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


# ----------------------------------------------------- messages for students

def _exc_text(e):
    """ "Type: message", or "Type" when the message is empty."""
    try:
        name = type(e).__name__
    except BaseException:
        name = "Exception"
    try:
        msg = str(e)
    except BaseException:
        msg = "<the exception's message could not be printed>"
    return "%s: %s" % (name, msg) if msg else name


def _deepest_line(tb, filename):
    line = None
    while tb is not None:
        try:
            if tb.tb_frame.f_code.co_filename == filename:
                line = tb.tb_lineno
        except BaseException:
            pass
        tb = tb.tb_next
    return line


def _describe(e, sub_path, test_path=None, test_name=None):
    """A short sentence for an exception: pytest's explanation for a failed
    assert of the test, else "Type: message (line n of your code)" with the
    deepest frame in the submission, or the test's line."""
    tb = e.__traceback__
    sub_line = _deepest_line(tb, sub_path)
    if isinstance(e, SyntaxError) and getattr(e, "filename", None) == sub_path:
        return _syntax_error(e)[0]
    if sub_line is None:
        if pytest is not None and isinstance(e, pytest.fail.Exception):
            return _cut(str(e.msg) or "Failed")
        if isinstance(e, AssertionError):
            try:
                text = str(e)
            except BaseException:
                text = ""
            if text:
                return _cut(text)
        if type(e).__name__ == "FixtureLookupError":
            return _cut(getattr(e, "msg", None) or
                        "fixture %r not found" % (getattr(e, "argname", "?"),))
    text = _exc_text(e)
    if sub_line is not None:
        return _cut("%s (line %d of your code)" % (text, sub_line))
    if test_path is not None:
        line = _deepest_line(tb, test_path)
        if line is not None:
            return _cut("%s (line %d of %s)" % (text, line, test_name or "the test"))
    return _cut(text)


# ------------------------------------------------------------ load check

# Runs in a fresh `python3 -I -B -c` with argv: report fd, memory MB, margin,
# work dir. Limits the address space to what it uses now plus memory MB, so
# the interpreter is not charged, imports the submission and reports on the
# fd: {"ok": true, "base": the interpreter's address space} or
# {"ok": false, "error", "line", "memory", "syntax"}.
_LOAD_BOOTSTRAP = r'''
import os, sys, resource, _json
def _main():
    fd, mem, margin, work = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    write, _exit, enc = os.write, os._exit, _json.encode_basestring_ascii
    path = os.path.join(work, "submission.py")
    R = resource
    try:
        with open("/proc/self/statm", "rb") as fh:
            base = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except Exception:
        base = 0
    limit = base + (mem << 20)
    try:
        hard = R.getrlimit(R.RLIMIT_AS)[1]
        top = limit + margin if hard == R.RLIM_INFINITY else min(limit + margin, hard)
        R.setrlimit(R.RLIMIT_AS, (min(limit, top), top))
    except Exception:
        top = None
    def report(doc):
        try:
            write(fd, doc.encode("ascii"))
        except BaseException:
            _exit(120)
        _exit(0)
    sys.path.insert(0, work)
    try:
        import submission
    except SystemExit:
        raise
    except BaseException as e:
        if top is not None:
            try:
                R.setrlimit(R.RLIMIT_AS, (top, top))
            except Exception:
                pass
        memory = isinstance(e, MemoryError)
        line = None
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == path:
                line = tb.tb_lineno
            tb = tb.tb_next
        syntax = isinstance(e, SyntaxError) and getattr(e, "filename", None) == path
        if syntax:
            line = e.lineno if type(e.lineno) is int else None
            text = e.msg or "invalid syntax"
        else:
            try:
                text = str(e)
            except BaseException:
                text = "<the exception's message could not be printed>"
            text = (type(e).__name__ + ": " + text) if text else type(e).__name__
        report('{"ok":false,"syntax":%s,"memory":%s,"line":%s,"error":%s}' % (
            "true" if syntax else "false", "true" if memory else "false",
            "null" if line is None else str(line), enc(text[:4000])))
    report('{"ok":true,"base":%d}' % base)
_main()
'''


def _random_fd():
    """A free descriptor number from 16 up, chosen at random."""
    top = min(_max_fd(), 1024)
    rnd = random.SystemRandom()
    for _ in range(64):
        fd = rnd.randrange(16, top) if top > 17 else 16
        if not _fd_is_open(fd):
            return fd
    return 16


def _spawn(argv, fds, cpu_s, as_bytes=None, extra=None):
    """fork + exec argv in its own process group with fds (the descriptors
    to become 0, 1 and 2), extra (target, fd) when given, every other
    descriptor closed, RLIMIT_CPU cpu_s and, when given, RLIMIT_AS as_bytes.
    Returns the pid."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)
            _die_with_parent()
            moved = [os.dup(fd) for fd in fds]
            for target, fd in enumerate(moved):
                os.dup2(fd, target)
            keep = len(fds)
            if extra is not None:
                os.dup2(extra[1], extra[0])
                os.closerange(keep, extra[0])
                keep = extra[0] + 1
            os.closerange(keep, _max_fd())
            _set_limit(resource.RLIMIT_CORE, 0, 0)
            _set_limit(resource.RLIMIT_CPU, cpu_s, cpu_s + 1)
            if as_bytes is not None:
                _set_limit(resource.RLIMIT_AS, as_bytes, as_bytes)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    return pid


def _watch(pid, readers, deadline, writer=None):
    """Follow a child until it has ended and its pipes are drained.

    readers maps a descriptor to a function taking each chunk read (b"" at
    end of file) and returning False to have the child killed; writer is
    (fd, bytes) to feed, closed when written. Returns (wait status, why it
    was killed: None, "timeout" or "reader"). Closes every descriptor given."""
    pidfd = _pidfd(pid)
    status, why, after = None, None, None
    open_r = dict(readers)
    wfd, wdata = writer if writer else (None, b"")
    if wfd is not None:
        os.set_blocking(wfd, False)
        if not wdata:
            os.close(wfd)
            wfd = None
    try:
        while True:
            now = time.monotonic()
            if status is None:
                status = _try_wait(pid)
                if status is not None:
                    after = now + GRACE_S
            if status is not None and (not open_r or now >= after):
                break
            if status is None and now >= deadline:
                _kill_group(pid)
                status = _wait(pid)
                why = why or "timeout"
                after = time.monotonic() + GRACE_S
                continue
            rl = list(open_r)
            if status is None and pidfd is not None:
                rl.append(pidfd)
            wl = [wfd] if wfd is not None and status is None else []
            limit = (after if status is not None else deadline) - now
            if status is None and pidfd is None:
                limit = min(limit, 0.01)
            try:
                r, w, _ = select.select(rl, wl, [], max(limit, 0))
            except InterruptedError:
                continue
            for fd in r:
                if fd == pidfd:
                    continue
                try:
                    chunk = os.read(fd, 1 << 16)
                except OSError:
                    chunk = b""
                if not chunk:
                    os.close(fd)
                    del open_r[fd]
                ok = readers[fd](chunk)
                if ok is False and status is None:
                    _kill_group(pid)
                    status = _wait(pid)
                    why = "reader"
                    after = time.monotonic() + GRACE_S
            if w:
                try:
                    n = os.write(wfd, wdata[:1 << 16])
                    wdata = wdata[n:]
                except BlockingIOError:
                    pass
                except OSError:
                    wdata = b""
                if not wdata:
                    os.close(wfd)
                    wfd = None
    finally:
        for fd in open_r:
            os.close(fd)
        if wfd is not None:
            os.close(wfd)
        if pidfd is not None:
            os.close(pidfd)
    return status, why


def _load_check(work, time_s, mem_mb):
    """{"ok", "error", "line", "base"} for importing the submission in a
    fresh interpreter under the test limits; base is that interpreter's own
    address space in bytes (0 when unknown)."""
    r, w = os.pipe()
    null = os.open(os.devnull, os.O_RDWR)
    fd = _random_fd()
    argv = [sys.executable, "-I", "-B", "-c", _LOAD_BOOTSTRAP, str(fd), str(mem_mb),
            str(AS_MARGIN), work]
    try:
        pid = _spawn(argv, [null, null, null], _cpu_seconds(time_s), extra=(fd, w))
    except OSError as e:
        os.close(r)
        return {"ok": False, "error": "internal: could not start the load check: %s" % e,
                "line": None}
    finally:
        os.close(w)
        os.close(null)
    got = []

    def take(chunk):
        got.append(chunk)
        return sum(len(c) for c in got) <= MAX_RECORD

    status, why = _watch(pid, {r: take}, time.monotonic() + time_s)
    kind, num = _ended(status)
    if why == "timeout" or (kind == "signal" and num == signal.SIGXCPU):
        return {"ok": False, "line": None,
                "error": "Timeout: your code took longer than %g s while it was being loaded"
                         % time_s}
    doc = None
    try:
        doc = json.loads(b"".join(got).decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        pass
    if type(doc) is dict and kind == "exit" and num == 0:
        if doc.get("ok") is True:
            base = doc.get("base") if type(doc.get("base")) is int else 0
            return {"ok": True, "error": None, "line": None, "base": max(0, min(base, 1 << 40))}
        line = doc.get("line") if type(doc.get("line")) is int else None
        text = doc.get("error") if type(doc.get("error")) is str else "an error"
        if doc.get("memory") is True:
            err = "MemoryError: your code used more than %d MB while it was being loaded" % mem_mb
        elif doc.get("syntax") is True:
            err = ("SyntaxError on line %d: %s" % (line, text)) if line else "SyntaxError: " + text
        else:
            where = "line %d of your code, " % line if line else ""
            err = "%s (%swhile it was being loaded)" % (text, where)
        return {"ok": False, "error": _cut(err), "line": line}
    if kind == "signal":
        hint = "; it may have run out of memory" if num == signal.SIGKILL else ""
        return {"ok": False, "line": None,
                "error": "your code was killed by signal %d (%s) while it was being loaded%s"
                         % (num, _signame(num), hint)}
    if got and b"".join(got):
        return {"ok": False, "line": None,
                "error": "your code wrote to the grader's report pipe while it was being "
                         "loaded (the report was tampered with)"}
    return {"ok": False, "line": None,
            "error": "your code exited while it was being loaded (exit status %d)" % num}


# ---------------------------------------------------------------- stdio

def _stdio_error(tail, sub_path):
    """ "Type: message (line n)" from the end of a Python traceback, or None."""
    text = tail.decode("utf-8", "replace")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return None
    last = lines[-1].strip()
    line = None
    marker = 'File "%s", line ' % sub_path
    for ln in lines:
        i = ln.find(marker)
        if i >= 0:
            digits = ""
            for c in ln[i + len(marker):]:
                if not c.isdigit():
                    break
                digits += c
            if digits:
                line = int(digits)
    if line is not None:
        return _cut("%s (line %d)" % (last, line))
    return _cut(last)


def _run_stdio(work, test, time_s, mem_mb, output_max, base):
    """The answer row of one stdio test: the program runs with RLIMIT_AS
    base (a fresh interpreter's own address space, STDIO_BASE when the load
    check did not measure it) + mem_mb."""
    sub_path = os.path.join(work, SUBMISSION_FILE)
    row = {"id": test["id"], "status": "runtime_error", "exit_code": None,
           "stdout_b64": "", "truncated": False, "error": None}
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    argv = [sys.executable, "-I", sub_path]
    try:
        pid = _spawn(argv, [in_r, out_w, err_w], _cpu_seconds(time_s),
                     (base or STDIO_BASE) + (mem_mb << 20))
    except OSError as e:
        for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
            os.close(fd)
        row["error"] = "internal: could not start the program: %s" % e
        return row
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    out = bytearray()
    seen = [0]
    err = bytearray()
    hard = max(4 * output_max, 1 << 16)

    def take_out(chunk):
        seen[0] += len(chunk)
        room = output_max - len(out)
        if room > 0:
            out.extend(chunk[:room])
        return seen[0] <= hard

    def take_err(chunk):
        err.extend(chunk)
        if len(err) > STDERR_TAIL:
            del err[:len(err) - STDERR_TAIL]

    data = test["stdin"].encode("utf-8", "surrogatepass")
    status, why = _watch(pid, {out_r: take_out, err_r: take_err},
                         time.monotonic() + time_s, writer=(in_w, data))
    kind, num = _ended(status)
    row["exit_code"] = num if kind == "exit" else -num
    row["stdout_b64"] = base64.b64encode(bytes(out)).decode("ascii")
    row["truncated"] = seen[0] > output_max
    last = _stdio_error(bytes(err), sub_path)
    if why == "reader":
        row["status"] = "output_limit"
        row["error"] = "the program printed more than %d bytes" % hard
    elif why == "timeout" or (kind == "signal" and num == signal.SIGXCPU):
        row["status"] = "timeout"
        row["error"] = "Timeout: the program ran longer than %g s" % time_s
    elif kind == "exit" and num == 0:
        row["status"] = "ok"
    elif last is not None and last.startswith("MemoryError"):
        row["status"] = "memory_limit"
        row["error"] = last
    elif kind == "signal":
        hint = "; it may have run out of memory" if num == signal.SIGKILL else ""
        row["error"] = "the program was killed by signal %d (%s)%s" % (num, _signame(num), hint)
    else:
        row["error"] = last or "the program ended with exit status %d" % num
    return row


# ------------------------------------------------------------ pytest side

class _Stub(types.ModuleType):
    """`submission` while the trusted list is collected: any public
    attribute is a placeholder class, so `from submission import f` and
    even `f(1)` at the test module's top level run nothing of the student's.
    Dunder names are missing (`import *` binds nothing)."""

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        cls = type(name, (), {"__module__": MODULE})
        setattr(self, name, cls)
        return cls


class _MemoryFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the request's .py support files (conftest.py files aside) from
    memory, first on sys.meta_path: a copy the student's code rewrote on
    disk never runs in a session or a test. A directory without __init__.py
    is a namespace package only where nothing else has that name, as it
    would be on sys.path."""

    def __init__(self, work, files):
        self.modules = {}          # name -> (path, source, is_package)
        for rel, text in files.items():
            if not rel.endswith(".py") or os.path.basename(rel) == "conftest.py":
                continue
            parts = rel[:-3].split("/")
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            if not parts or not all(p.isidentifier() for p in parts):
                continue
            self.modules[".".join(parts)] = (os.path.join(work, rel), text, is_pkg)
            for k in range(1, len(parts)):   # directories without __init__.py
                self.modules.setdefault(".".join(parts[:k]), (None, "", True))

    def find_spec(self, name, path=None, target=None):
        if name not in self.modules:
            return None
        origin, _, is_pkg = self.modules[name]
        if origin is None and importlib.machinery.PathFinder.find_spec(name, path) is not None:
            return None
        return importlib.util.spec_from_loader(name, self, origin=origin, is_package=is_pkg)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        origin, text, is_pkg = self.modules[module.__name__]
        if origin is not None:
            module.__file__ = origin
        if is_pkg:
            module.__path__ = []
        exec(compile(text, origin or "<namespace>", "exec", dont_inherit=True), module.__dict__)


if pytest is not None:
    class _TestModule(pytest.Module):
        """A pytest module whose code comes from the session's memory."""

        grade_code = None          # the compiled, assert-rewritten module
        grade_name = "test_module"
        grade_error = None         # formats an import failure

        def _getobj(self):
            mod = types.ModuleType(self.grade_name)
            mod.__file__ = str(self.path)
            sys.modules[self.grade_name] = mod
            try:
                exec(self.grade_code, mod.__dict__)
            except pytest.skip.Exception as e:
                if e.allow_module_level:
                    raise
                raise self.CollectError("pytest.skip() outside a test") from e
            except BaseException as e:
                raise self.CollectError(self.grade_error(e)) from None
            self.config.pluginmanager.consider_module(mod)
            return mod


class _CollectFailed(Exception):
    pass


def _collect(node):
    """Every test item under node, in pytest's order; _CollectFailed with a
    student-readable reason when a collector raises. A skipped module or
    class contributes nothing."""
    items = []

    def walk(n):
        if isinstance(n, pytest.Item):
            items.append(n)
            return
        try:
            children = list(n.collect())
        except pytest.skip.Exception:
            return
        except _CollectFailed:
            raise
        except BaseException as e:
            if isinstance(e, n.CollectError):
                msg = str(e)
            else:
                msg = _exc_text(e)
            raise _CollectFailed(_cut(msg)) from None
        for c in children:
            walk(c)

    walk(node)
    return items


def _points(item):
    m = item.get_closest_marker("points")
    if m is None:
        return 1
    v = m.args[0] if m.args else m.kwargs.get("n", m.kwargs.get("points"))
    if type(v) in (int, float) and v == v and 0 <= v <= 1e6:
        return v
    return 1


def _module_name(rel, taken):
    base = os.path.basename(rel)[:-3]
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in base) or "test_module"
    if name[0].isdigit():
        name = "_" + name
    if name == MODULE or name in taken:
        name = "_evald_" + name
    return name


class _Reporter:
    """A test process's one way to report: the record fd, the nonce and the
    C functions it needs are captured here before student code runs.
    Calling it sends one record (message cut at limit) and ends the process."""

    __slots__ = ("_send",)

    def __init__(self, fd, nonce, limit=MESSAGE_MAX):
        write, _exit, enc = os.write, os._exit, _json.encode_basestring_ascii
        setrl, AS = resource.setrlimit, resource.RLIMIT_AS
        _len, _type, _str = len, type, str
        statuses = ("passed", "failed", "error", "timeout")

        def send(status, message, release=None):
            if release is not None:
                try:
                    setrl(AS, release)
                except BaseException:
                    pass
            try:
                if status not in statuses:
                    status = "error"
                if _type(message) is not _str:
                    message = ""
                data = ('{"n":"%s","s":"%s","m":%s}' % (
                    nonce, status, enc(message[:limit]))).encode("ascii")
                frame = b"R" + _len(data).to_bytes(4, "big") + data
            except MemoryError:
                _exit(EXIT_NO_MEMORY)
            except BaseException:
                _exit(EXIT_INTERNAL)
            try:
                while frame:
                    frame = frame[write(fd, frame):]
            except BaseException:
                _exit(EXIT_INTERNAL)
            _exit(0)

        self._send = send

    def __call__(self, status, message, release=None):
        self._send(status, message, release)


def _check_record(data, nonce):
    """(status, message) from a test process's bytes, or None when they are
    not exactly one well-formed record carrying nonce."""
    if len(data) < 5 or data[:1] != b"R":
        return None
    n = int.from_bytes(data[1:5], "big")
    if len(data) != 5 + n:
        return None
    try:
        doc = json.loads(data[5:].decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
    if (type(doc) is not dict or set(doc) != {"n", "s", "m"} or doc["n"] != nonce or
            doc["s"] not in ("passed", "failed", "error", "timeout") or
            type(doc["m"]) is not str):
        return None
    return doc["s"], doc["m"]


def _hookimpl(**kw):
    if pytest is None:
        return lambda f: f
    return pytest.hookimpl(**kw)


class _GradePlugin:
    """The pytest plugin of the zygote, its sessions and their test
    processes (self.role says which one this process is)."""

    def __init__(self, ctrl_r, rep_w):
        self.ctrl_r, self.rep_w = ctrl_r, rep_w
        self.role = "zygote"
        self.out = None            # session: the pipe to the zygote
        self.job = None
        self.tests = []            # session: [(node id, points)]
        self.phases = {}           # test: when -> (report, excinfo)
        self.as_release = None     # test: RLIMIT_AS pair giving the margin back
        self.only = None           # test: names on the way to its node id

    # -- hooks

    def pytest_configure(self, config):
        config.addinivalue_line("markers", "points(n): the points the test is worth")

    @_hookimpl(tryfirst=True)
    def pytest_collection(self, session):
        if self.role != "zygote":
            return None
        self.session = session
        return self._zygote_loop(session)

    @_hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        if self.role != "session":
            return None
        self._session_run(session)
        return True

    @_hookimpl(tryfirst=True)
    def pytest_pycollect_makeitem(self, collector, name, obj):
        """In a test process, collect only what leads to its node id: the
        other functions of the file cost time and are never run there."""
        if self.only is None:
            return None
        depth = collector.nodeid.count("::")
        if depth < len(self.only) and name != self.only[depth]:
            return []
        return None

    @_hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item, call):
        if self.role == "test" and call.excinfo is not None and \
                isinstance(call.excinfo.value, MemoryError):
            self._release()
            tb = call.excinfo.value.__traceback__
            self.phases[call.when + ":memory"] = _deepest_line(tb, self.sub_path) or 0
            while tb is not None:
                try:
                    tb.tb_frame.clear()
                except BaseException:
                    pass
                tb = tb.tb_next
        outcome = yield
        if self.role == "test" and outcome.excinfo is None:
            self.phases[call.when] = (outcome.get_result(), call.excinfo)

    # -- zygote

    def _zygote_loop(self, session):
        """Serve the master's jobs: one session process per pytest file.
        Returns True in a session (which goes on through pytest's own
        main loop); never returns in the zygote."""
        buf = bytearray(1 << 16)
        while True:
            head = _read_exact(self.ctrl_r, 8)
            if head is None:
                os._exit(0)
            n = int.from_bytes(head, "big")
            if n > len(buf):
                buf[:] = bytes(len(buf))
                buf = bytearray(n)
            if not _readinto_exact(self.ctrl_r, buf, n):
                os._exit(0)
            try:
                r, w = os.pipe()
                pid = os.fork()
            except OSError as e:
                buf[:n] = bytes(n)
                _write_all(self.rep_w, _frame({"k": "ended", "error": "could not start the "
                                               "session: %s" % e}))
                continue
            if pid == 0:
                os.close(r)
                os.close(self.ctrl_r)
                os.close(self.rep_w)
                job = bytes(buf[:n])
                buf[:] = bytes(len(buf))
                self.role, self.out = "session", w
                return self._session_start(session, job)
            buf[:n] = bytes(n)     # the next session must not find this file
            os.close(w)
            self._relay(r)
            os.close(r)
            status = _wait(pid)
            kind, num = _ended(status)
            _write_all(self.rep_w, _frame({"k": "ended", kind: num}))

    def _relay(self, r):
        """Forward the session's whole frames to the master until it ends."""
        while True:
            head = _read_exact(r, 8)
            if head is None:
                return
            n = int.from_bytes(head, "big")
            if n > MAX_FRAME:
                return
            body = _read_exact(r, n)
            if body is None:
                return
            _write_all(self.rep_w, head + body)

    # -- session

    def _send(self, obj):
        _write_all(self.out, _frame(obj))

    def _session_start(self, session, job_bytes):
        """Compile and collect the job's file against the stub; report the
        trusted list. Runs in the session process."""
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        _die_with_parent()
        try:
            job = json.loads(job_bytes.decode("ascii"))
            del job_bytes
            self.job = job
            self._send({"k": "hello", "pid": os.getpid()})
            tests, error = self._session_collect(session, job)
            self.tests = tests
            self._send({"k": "list", "tests": tests, "error": error})
        except BaseException as e:
            self._fatal(e)
        session.items = []
        session.testscollected = len(self.tests)
        return True

    def _fatal(self, e):
        try:
            self._send({"k": "fatal", "error": "internal: the test session failed: " +
                        _cut(_exc_text(e), 500)})
        finally:
            os._exit(1)

    def _session_collect(self, session, job):
        work, rel = job["work"], job["file"]
        self.sub_path = os.path.join(work, SUBMISSION_FILE)
        self.test_path = os.path.join(work, rel)
        self.finder = _MemoryFinder(work, job["support"])
        sys.meta_path.insert(0, self.finder)
        while work in sys.path:
            sys.path.remove(work)
        if "" in sys.path:
            sys.path.remove("")
        sys.modules[MODULE] = _Stub(MODULE)
        sys.modules[MODULE].__file__ = self.sub_path
        self.module_name = _module_name(rel, self.finder.modules)

        # The teacher's conftest.py files on the way to the test file, root
        # first, as pytest would find them; from memory, never from disk.
        self.conftests = []
        for crel, text in sorted(job["support"].items(), key=lambda kv: kv[0].count("/")):
            d = os.path.dirname(crel)
            if os.path.basename(crel) == "conftest.py" and (not d or rel.startswith(d + "/")):
                self.conftests.append((crel, text))
        try:
            self.conftests = [(crel, self._compile(session, work, crel, text))
                              for crel, text in self.conftests]
            self.code = self._compile(session, work, rel, job["source"])
        except (SyntaxError, ValueError) as e:
            line = getattr(e, "lineno", None)
            where = getattr(e, "filename", None) or rel
            return [], "%s has a syntax error%s: %s" % (
                os.path.relpath(where, work) if where.startswith("/") else where,
                " on line %d" % line if type(line) is int else "",
                getattr(e, "msg", None) or e)
        fm = session._fixturemanager
        self.fixture_state = ({k: list(v) for k, v in fm._arg2fixturedefs.items()},
                              {k: list(v) for k, v in fm._nodeid_autousenames.items()})
        self.plugins = []

        self._preimport(job.get("preimport", []), min(job["time_s"], 10.0))

        try:
            items = _collect(self._build(session))
            session.config.hook.pytest_collection_modifyitems(
                session=session, config=session.config, items=items)
            return self._listing(items), None
        except _CollectFailed as e:
            stub_error = str(e)
        if not job["load_ok"]:
            return [], "the tests in %s could not be collected: %s" % (rel, stub_error)
        # The file needs the real submission at import (it calls it, or
        # iterates over something of it): collect with it in a child under
        # the test limits. What that child reports is only as trustworthy
        # as the student's code.
        tests, error = self._collect_with_submission(session)
        if error is not None:
            return [], "the tests in %s could not be collected: %s" % (rel, error)
        return tests, None

    def _preimport(self, names, budget):
        """Import the system packages the submission imports, within budget
        seconds (an alarm ends a slow one); failures are ignored."""
        class Late(Exception):
            pass

        def alarm(signum, frame):
            raise Late

        old = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, budget)
        try:
            for name in names:
                if (name in sys.modules or "__main__" in name.split(".") or
                        name.split(".")[0] in self.finder.modules):
                    continue
                try:
                    importlib.import_module(name)
                except Late:
                    break
                except BaseException:
                    pass
        except Late:
            pass
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)

    def _listing(self, items):
        tests, seen = [], set()
        for it in items:
            if it.nodeid not in seen:
                seen.add(it.nodeid)
                tests.append([it.nodeid, _points(it)])
        return tests

    @staticmethod
    def _compile(session, work, rel, source):
        """The code of a test or conftest file, asserts rewritten as pytest
        does; the source goes to linecache, for tracebacks, never to disk."""
        import linecache
        path = os.path.join(work, rel)
        linecache.cache[path] = (len(source), None, _lines(source), path)
        tree = ast.parse(source, filename=path)
        _pytest.assertion.rewrite.rewrite_asserts(
            tree, source.encode("utf-8", "surrogatepass"), path, session.config)
        return compile(tree, path, "exec", dont_inherit=True)

    def _build(self, session):
        """Register the conftest files as plugins and return a new collector
        of the test file. _CollectFailed when a conftest file raises."""
        pm = session.config.pluginmanager
        for crel, code in self.conftests:
            path = os.path.join(self.job["work"], crel)
            mod = types.ModuleType("conftest")
            mod.__file__ = path
            try:
                exec(code, mod.__dict__)
                # its fixtures apply below its directory, as pytest's own
                pm.register(mod, name=path)
            except BaseException as e:
                raise _CollectFailed(_cut("the support file %s failed: %s" % (
                    crel, _describe(e, self.sub_path, path, crel)))) from None
            self.plugins.append(mod)
            sys.modules["conftest"] = mod
        return self._new_module(session)

    def _new_module(self, session):
        mod = _TestModule.from_parent(session, path=pathlib.Path(self.test_path),
                                      nodeid=self.job["file"])
        mod.grade_code = self.code
        mod.grade_name = self.module_name
        name = self.job["file"]
        mod.grade_error = lambda e: _describe(e, self.sub_path, self.test_path, name)
        return mod

    def _collect_with_submission(self, session):
        """([(node id, points)], None) or ([], why) from a collection with the
        real submission, in a child that has the test limits."""
        pid, r, nonce = self._fork_child(lambda report: self._child_collect(session, report),
                                         MAX_LISTING)
        status, data, timed_out = self._supervise(pid, r, MAX_LISTING + 256)
        if timed_out:
            return [], "Timeout: loading the test file with your code took longer than %g s" \
                % self.job["time_s"]
        rec = _check_record(data, nonce) if _ended(status) == ("exit", 0) else None
        if rec is None:
            return [], "the test file could not be loaded with your code (%s)" % \
                self._no_record(status, data)
        status_, message = rec
        if status_ != "passed":
            return [], _cut(message)
        try:
            tests = json.loads(message) if message else []
            ok = type(tests) is list and all(
                type(t) is list and len(t) == 2 and type(t[0]) is str and
                type(t[1]) in (int, float) and 0 <= t[1] <= 1e6 for t in tests)
        except ValueError:
            ok = False
        if not ok:
            return [], "the list of tests was tampered with"
        return tests, None

    def _child_collect(self, session, report):
        """In a child with the real submission: the listing as the message
        of a "passed" record, or why the file cannot be collected."""
        try:
            items = _collect(self._build(session))
        except _CollectFailed as e:
            report("failed", str(e), self.as_release)
        listing = json.dumps(self._listing(items))
        del items
        report("passed", listing, self.as_release)

    def _session_run(self, session):
        """Fork, supervise and report every test of the trusted list, then
        end the session process."""
        try:
            if self.job is not None and self.job["load_ok"] and self.tests:
                for i, (nodeid, _) in enumerate(self.tests):
                    self._run_one(session, i, nodeid)
            self._send({"k": "end"})
        except BaseException as e:
            self._fatal(e)
        os._exit(0)

    def _run_one(self, session, i, nodeid):
        try:
            pid, r, nonce = self._fork_child(
                lambda report: self._child_test(session, nodeid, report))
        except OSError as e:
            self._send({"k": "result", "i": i, "status": "error",
                        "message": "the test could not be started: %s" % e})
            return
        self._send({"k": "start", "i": i, "pid": pid})
        status, data, timed_out = self._supervise(pid, r)
        if timed_out:
            st, msg = "timeout", "Timeout: the test took longer than %g s" % self.job["time_s"]
        else:
            rec = _check_record(data, nonce) if _ended(status) == ("exit", 0) else None
            if rec is not None:
                st, msg = rec
                msg = _cut(msg)
            elif data:
                st, msg = "failed", ("the test's report was tampered with (it reported twice, "
                                     "or wrote something else on the harness's pipe)")
            else:
                st, msg = self._verdict_without_record(status)
        self._send({"k": "result", "i": i, "status": st, "message": _cut(msg)})

    def _verdict_without_record(self, status):
        kind, num = _ended(status)
        if kind == "signal" and num == signal.SIGXCPU:
            return "timeout", "Timeout: the test used more than %d s of CPU time" % \
                _cpu_seconds(self.job["time_s"])
        if kind == "signal":
            hint = "; it may have run out of memory" if num == signal.SIGKILL else ""
            return "error", "the test's process was killed by signal %d (%s)%s" % (
                num, _signame(num), hint)
        if num == EXIT_NO_MEMORY:
            return "error", "MemoryError: the test used more than %d MB" % self.job["memory_mb"]
        return "error", self._no_record(status, b"")

    @staticmethod
    def _no_record(status, data):
        kind, num = _ended(status)
        if data:
            return "its report was tampered with"
        if kind == "signal":
            return "killed by signal %d (%s)" % (num, _signame(num))
        return ("the test's process ended before reporting a result (exit status %d): "
                "did your code call exit() or os._exit()?" % num)

    def _fork_child(self, body, limit=MESSAGE_MAX):
        """Fork a test process that runs body(report) with the limits of a
        test, report taking messages up to limit characters; returns (pid,
        read end of its record pipe, the nonce its record must carry).

        The nonce is drawn after the fork and sent to the child on a pipe of
        its own, read before any student code runs: it is in no stack frame
        or variable the child inherited, only in its reporter's closure."""
        r, w = os.pipe()
        nr, nw = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            for fd in (r, w, nr, nw):
                os.close(fd)
            raise
        if pid == 0:
            report = None
            try:
                self.role = "test"
                os.setpgid(0, 0)
                _die_with_parent()
                os.close(nw)
                got = _read_exact(nr, 32)
                os.close(nr)
                fd = self._hide_fd(w)
                report = _Reporter(fd, got.decode("ascii"), limit)
                del got
                self._enter_test_limits()
                self._enter_real_submission()
                body(report)
                report("error", "internal: the test reported nothing")
            except BaseException as e:
                try:
                    if report is not None:
                        report("error", "the test could not run: " +
                               _describe(e, self.sub_path, self.test_path, self.job["file"]),
                               self.as_release)
                except BaseException:
                    pass
            finally:
                os._exit(EXIT_INTERNAL)
        os.close(w)
        os.close(nr)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        nonce = os.urandom(16).hex()
        try:
            _write_all(nw, nonce.encode("ascii"))
        except OSError:
            pass                    # the child is gone already: no record
        os.close(nw)
        return pid, r, nonce

    @staticmethod
    def _hide_fd(w):
        """Move the record pipe to a random free descriptor and close every
        other descriptor but 0-2."""
        fd = _random_fd()
        if fd != w:
            os.dup2(w, fd, inheritable=False)
        os.closerange(3, fd)
        os.closerange(fd + 1, _max_fd())
        return fd

    def _enter_test_limits(self):
        _set_limit(resource.RLIMIT_CORE, 0, 0)
        cpu = _cpu_seconds(self.job["time_s"])
        _set_limit(resource.RLIMIT_CPU, cpu, cpu + 1)
        limit = _address_space() + (self.job["memory_mb"] << 20)
        pair = _set_limit(resource.RLIMIT_AS, limit, limit + AS_MARGIN)
        if pair is not None:
            self.as_release = (pair[1], pair[1])

    def _release(self):
        if self.as_release is not None:
            try:
                resource.setrlimit(resource.RLIMIT_AS, self.as_release)
            except (OSError, ValueError):
                pass

    def _enter_real_submission(self):
        """Undo the stub world: the submission is imported from the work
        directory from now on; the conftest files, the support modules
        (still from memory, so a copy the student's code rewrote on disk is
        not used) and the test file run again, and the fixtures they
        registered with the stub are forgotten."""
        pm = self.session.config.pluginmanager
        for mod in self.plugins:
            try:
                pm.unregister(mod)
            except Exception:
                pass
        self.plugins = []
        fm = self.session._fixturemanager
        fm._arg2fixturedefs.clear()
        fm._arg2fixturedefs.update(self.fixture_state[0])
        fm._nodeid_autousenames.clear()
        fm._nodeid_autousenames.update(self.fixture_state[1])
        for name in [MODULE, self.module_name, "conftest"] + list(self.finder.modules):
            sys.modules.pop(name, None)
        sys.path.insert(0, self.job["work"])
        importlib.invalidate_caches()

    def _child_test(self, session, nodeid, report):
        """Import the real submission, collect the file's path to nodeid
        and run that item; reports (and so ends the process) in any case."""
        try:
            importlib.import_module(MODULE)
        except BaseException as e:
            if isinstance(e, MemoryError):
                report("error", "MemoryError: your code used more than %d MB while it was "
                       "being loaded" % self.job["memory_mb"], self.as_release)
            report("error", "your code failed while it was being loaded: " +
                   _describe(e, self.sub_path), self.as_release)
        rest = nodeid[len(self.job["file"]) + 2:]
        if rest.endswith("]") and "[" in rest:
            rest = rest[:rest.index("[")]
        item = None
        for only in (rest.split("::"), None):
            self.only = only
            try:
                items = _collect(self._build(session) if only is not None else
                                 self._new_module(session))
            except _CollectFailed as e:
                report("error", "the test file could not be loaded with your code: " + str(e),
                       self.as_release)
            for it in items:
                if it.nodeid == nodeid:
                    item = it
                    break
            if item is not None:
                break
        self.only = None
        if item is None:
            report("error", "this test was not found when the test file was loaded with "
                   "your code", self.as_release)
        del items
        try:
            item.ihook.pytest_runtest_protocol(item=item, nextitem=None)
        except BaseException as e:
            # KeyboardInterrupt and pytest.exit() are not caught by pytest
            self._release()
            report("error", "the test was interrupted: " + self._message(e), self.as_release)
        status, message = self._verdict()
        report(status, message, self.as_release)

    def _message(self, e):
        return _describe(e, self.sub_path, self.test_path, self.job["file"])

    def _verdict(self):
        """(status, message) of the test from its setup, call and teardown."""
        for when in ("setup", "call", "teardown"):
            line = self.phases.get(when + ":memory")
            if line is not None:
                return "error", "MemoryError: the test used more than %d MB%s" % (
                    self.job["memory_mb"], " (line %d of your code)" % line if line else "")
        setup = self.phases.get("setup")
        if setup is None:
            return "error", "the test did not run"
        rep, exc = setup
        if rep.failed:
            return "error", "error in the test's setup: " + self._explain(rep, exc)
        if rep.skipped:
            return "failed", self._skip_text(rep)
        call = self.phases.get("call")
        if call is None:
            return "error", "the test did not run"
        rep, exc = call
        if rep.failed:
            if exc is not None and isinstance(exc.value, SystemExit):
                return "error", _cut("SystemExit(%r) during the test: your code called exit() "
                                     "or sys.exit()%s" % (exc.value.code, self._where(exc)))
            return "failed", self._explain(rep, exc)
        if rep.skipped:
            return "failed", self._skip_text(rep)
        teardown = self.phases.get("teardown")
        if teardown is not None and teardown[0].failed:
            return "error", "error in the test's teardown: " + self._explain(*teardown)
        return "passed", ""

    def _where(self, exc):
        line = _deepest_line(exc.value.__traceback__, self.sub_path)
        return " (line %d of your code)" % line if line is not None else ""

    def _explain(self, rep, exc):
        if exc is not None:
            return self._message(exc.value)
        if getattr(rep, "wasxfail", None) is not None or "XPASS" in str(rep.longrepr):
            return "the test was expected to fail (xfail, strict) but passed"
        return _cut(str(rep.longrepr or "failed"))

    @staticmethod
    def _skip_text(rep):
        reason = getattr(rep, "wasxfail", None)
        if reason is not None:
            return _cut("the test is marked as expected to fail (xfail)%s and failed; it "
                        "earns nothing" % (": " + reason if reason else ""))
        lr = rep.longrepr
        msg = lr[2] if type(lr) is tuple and len(lr) == 3 else str(lr or "")
        if msg.startswith("Skipped: "):
            msg = msg[9:]
        return _cut("skipped: %s" % msg if msg else "skipped")

    def _supervise(self, pid, r, max_bytes=MAX_RECORD):
        """(wait status, bytes sent, timed out) of a test process, killing its
        group at the wall-clock limit or once it has ended. More than
        max_bytes sent is reported as b"?" (never a valid record)."""
        data = bytearray()
        over = [False]

        def take(chunk):
            if len(data) + len(chunk) > max_bytes:
                over[0] = True
            else:
                data.extend(chunk)
            return True

        status, why = _watch(pid, {r: take}, time.monotonic() + self.job["time_s"])
        if over[0]:
            data = bytearray(b"?")
        return status, bytes(data), why == "timeout"


def _serve_broken(ctrl_r, rep_w, why):
    """The zygote could not set pytest up: answer every job with why."""
    while True:
        head = _read_exact(ctrl_r, 8)
        if head is None or _read_exact(ctrl_r, int.from_bytes(head, "big")) is None:
            os._exit(0)
        _write_all(rep_w, _frame({"k": "ended", "error": why}))


def _zygote_main(ctrl_r, rep_w, out_fd):
    """The zygote process: sets pytest up and serves jobs. Never returns."""
    try:
        if out_fd == 3:
            os.close(3)
        _devnull_stdio()
        for key in list(os.environ):
            if key.startswith("PYTEST_"):
                del os.environ[key]
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        if pytest is None:
            _serve_broken(ctrl_r, rep_w, _PYTEST_ERROR)
        plugin = _GradePlugin(ctrl_r, rep_w)
        try:
            rc = pytest.main(_PYTEST_ARGS + ["--rootdir", os.getcwd()], plugins=[plugin])
        except BaseException as e:
            rc = _exc_text(e)
        if plugin.role == "zygote":
            _serve_broken(ctrl_r, rep_w, "pytest could not be set up (%s)" % (rc,))
        if plugin.role == "session":
            plugin._fatal(RuntimeError("pytest ended the session (%s)" % (rc,)))
    finally:
        os._exit(0)


class _FrameReader:
    """The master's reader of the zygote's frames, with deadlines."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = bytearray()
        self.eof = False

    def next(self, deadline):
        """The next frame as a dict, None at the deadline, "eof" at end of
        file, "bad" for a frame that is not JSON."""
        while True:
            if len(self.buf) >= 8:
                n = int.from_bytes(self.buf[:8], "big")
                if n > MAX_FRAME:
                    return "bad"
                if len(self.buf) >= 8 + n:
                    body = bytes(self.buf[8:8 + n])
                    del self.buf[:8 + n]
                    try:
                        obj = json.loads(body.decode("ascii"))
                    except (ValueError, UnicodeDecodeError):
                        return "bad"
                    return obj if type(obj) is dict else "bad"
            if self.eof:
                return "eof"
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                r, _, _ = select.select([self.fd], [], [], left)
            except InterruptedError:
                continue
            if not r:
                return None
            b = os.read(self.fd, 1 << 20)
            if not b:
                self.eof = True
            self.buf.extend(b)


_NOT_RUN = "the grader could not run this test"


class _Zygote:
    """The master's handle on the zygote."""

    def __init__(self, out_fd):
        ctrl_r, ctrl_w = os.pipe()
        rep_r, rep_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ctrl_w)
            os.close(rep_r)
            _zygote_main(ctrl_r, rep_w, out_fd)
        os.close(ctrl_r)
        os.close(rep_w)
        os.set_blocking(ctrl_w, False)
        self.pid, self.ctrl_w = pid, ctrl_w
        self.reader = _FrameReader(rep_r)
        self.dead = None           # why the zygote can no longer be used

    def stop(self):
        try:
            os.close(self.ctrl_w)
        except OSError:
            pass
        _kill_group(self.pid)
        _wait(self.pid)
        os.close(self.reader.fd)

    def _send(self, data, deadline):
        """Write data to the zygote by deadline (a stopped zygote must not
        hang the master); False when it could not."""
        mv = memoryview(data)
        while mv:
            left = deadline - time.monotonic()
            try:
                if left <= 0 or not select.select([], [self.ctrl_w], [], left)[1]:
                    return False
                mv = mv[os.write(self.ctrl_w, mv):]
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return False
        return True

    def _give_up(self, why):
        self.dead = why
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass

    def run_file(self, job, load_error):
        """{"id", "error", "tests"} for one pytest file: the session's
        trusted list, each row with the status the session reported for
        it, "failed" with load_error when that is set (nothing is run), or
        "error" when the session stopped before reporting it. The session
        is killed when it stays silent past a test's limit plus BACKSTOP_S
        (IDLE_S between tests); the zygote is given up when it does."""
        entry = {"id": job["id"], "error": None, "tests": []}
        if self.dead is not None:
            entry["error"] = self.dead
            return entry
        time_s = job["time_s"]
        body = json.dumps(job, separators=(",", ":")).encode("ascii")
        if not self._send(len(body).to_bytes(8, "big") + body, time.monotonic() + IDLE_S):
            self._give_up("internal: the test runner is gone or stopped answering")
            entry["error"] = self.dead
            return entry
        del body
        rows = None
        session_pid = current_pid = None
        started = set()
        lost = None
        deadline = time.monotonic() + 2 * time_s + IDLE_S
        while True:
            fr = self.reader.next(deadline)
            if fr is None or fr == "bad" or fr == "eof":
                # the session stopped answering: kill it and what it ran
                lost = ("the test could not be finished: the grader's test process stopped "
                        "answering (was it stopped or killed by your code?)")
                for p in (current_pid, session_pid):
                    if p:
                        _kill_group(p)
                if fr == "bad" or fr == "eof":
                    self._give_up("internal: the test runner failed")
                    break
                fr = self.reader.next(time.monotonic() + BACKSTOP_S)
                while isinstance(fr, dict) and fr.get("k") != "ended":
                    fr = self.reader.next(time.monotonic() + BACKSTOP_S)
                if not isinstance(fr, dict):
                    self._give_up("internal: the test runner stopped answering")
                break
            k = fr.get("k")
            if k == "hello":
                session_pid = fr.get("pid") if type(fr.get("pid")) is int else None
            elif k == "list" and rows is None:
                rows = []
                for t in fr.get("tests") or []:
                    if (type(t) is list and len(t) == 2 and type(t[0]) is str and
                            type(t[1]) in (int, float)):
                        rows.append({"name": t[0], "points": t[1], "status": "error",
                                     "message": _NOT_RUN})
                entry["error"] = fr.get("error") if type(fr.get("error")) is str else None
                if load_error is not None:
                    for row in rows:
                        row["status"], row["message"] = "failed", load_error
            elif k == "start" and rows is not None and fr.get("i") not in started and \
                    type(fr.get("i")) is int and 0 <= fr["i"] < len(rows):
                started.add(fr["i"])
                current_pid = fr.get("pid") if type(fr.get("pid")) is int else None
                deadline = time.monotonic() + time_s + BACKSTOP_S
                continue
            elif k == "result" and rows is not None and fr.get("i") in started:
                row = rows[fr["i"]]
                if fr.get("status") in ("passed", "failed", "error", "timeout") and \
                        type(fr.get("message")) is str:
                    row["status"], row["message"] = fr["status"], _cut(fr["message"])
                current_pid = None
            elif k == "fatal":
                entry["error"] = fr.get("error") if type(fr.get("error")) is str else \
                    "internal: the test session failed"
            elif k == "ended":
                if fr.get("error") and entry["error"] is None:
                    entry["error"] = "internal: " + str(fr["error"])
                break
            deadline = time.monotonic() + IDLE_S
        if rows is None:
            if entry["error"] is None:
                entry["error"] = lost or "internal: the test session ended without a list"
            return entry
        if lost is not None:
            for row in rows:
                if row["message"] is _NOT_RUN:
                    row["message"] = lost
        entry["tests"] = rows
        return entry


# ---------------------------------------------------------------- master

def _error_doc(why, source="", py_ids=(), stdio_ids=()):
    return {"submission": source, "notebook": False,
            "load": {"ok": False, "error": why, "line": None},
            "pytest": [{"id": i, "error": why, "tests": []} for i in py_ids],
            "stdio": [{"id": i, "status": "runtime_error", "exit_code": None, "stdout_b64": "",
                       "truncated": False, "error": why} for i in stdio_ids]}


def _grade(raw, zygote):
    try:
        req = _parse_request(raw)
    except _BadRequest as e:
        py, st = _salvage_ids(raw)
        return _error_doc("internal: " + str(e), "", py, st)
    del raw
    work = os.getcwd()
    time_s, mem_mb = req["time_s"], req["memory_mb"]
    text, notebook, load_error, line = _prepare_submission(req["source"])
    doc = {"submission": text, "notebook": notebook,
           "load": {"ok": True, "error": None, "line": None}, "pytest": [], "stdio": []}
    # A support file that is also one of the pytest files stays in memory
    # like the others: a test file never reaches the disk.
    test_files = {t["file"] for t in req["pytest"]}
    try:
        for rel, content in req["files"].items():
            if rel not in test_files:
                _write_file(work, rel, content)
        _write_file(work, SUBMISSION_FILE, text)
    except OSError as e:
        why = "internal: the work directory could not be written: %s" % e
        bad = _error_doc(why, text, [t["id"] for t in req["pytest"]],
                         [t["id"] for t in req["stdio"]])
        bad["notebook"] = notebook
        return bad

    # A stdio program reads its input at the top level: importing it with
    # an empty stdin would judge it by something it is not asked to do. With
    # stdio tests and no pytest file, the syntax check is the load check and
    # each run of the program says the rest (io tests, run by the executor,
    # report an import failure themselves).
    base = 0
    if load_error is None and (req["pytest"] or not req["stdio"]):
        load = _load_check(work, time_s, mem_mb)
        load_error, line, base = load["error"], load["line"], load.get("base", 0)
    if load_error is not None:
        doc["load"] = {"ok": False, "error": load_error, "line": line}

    support = {rel: t for rel, t in req["files"].items() if rel.endswith(".py")}
    preimport = _third_party_imports(text) if load_error is None else []
    for t in req["pytest"]:
        if zygote is None or pytest is None:
            doc["pytest"].append({"id": t["id"], "tests": [], "error": "internal: " + (
                _PYTEST_ERROR or "the test runner could not be started")})
            continue
        job = {"id": t["id"], "file": t["file"], "source": t["source"], "work": work,
               "support": support, "time_s": time_s, "memory_mb": mem_mb,
               "load_ok": load_error is None, "preimport": preimport}
        doc["pytest"].append(zygote.run_file(job, load_error))
        del job
    for t in req["stdio"]:
        if load_error is not None:
            doc["stdio"].append({"id": t["id"], "status": "runtime_error", "exit_code": None,
                                 "stdout_b64": "", "truncated": False, "error": load_error})
            continue
        doc["stdio"].append(_run_stdio(work, t, time_s, mem_mb, req["output_max"], base))
    return doc


def _encode_doc(doc):
    try:
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:      # lone surrogates: keep them as \\u escapes
        return json.dumps(doc).encode("ascii")


def _emit(out_fd, doc):
    """Write the answer. Stdout kept of stdio programs is cut when the whole
    would pass the executor's cap, so the answer always stays one document."""
    data = _encode_doc(doc)
    if len(data) > MAX_DOC and doc.get("stdio"):
        each = (MAX_DOC // 2) // len(doc["stdio"]) * 3 // 4
        for row in doc["stdio"]:
            raw = base64.b64decode(row["stdout_b64"])
            if len(raw) > each:
                row["stdout_b64"] = base64.b64encode(raw[:each]).decode("ascii")
                row["truncated"] = True
        data = _encode_doc(doc)
    try:
        _write_all(out_fd, data)
    except OSError:
        pass


def warm():
    """Runs once in a grading zygote: ctypes, which every grading job's
    _prctl imports, is then loaded in each job process before it starts."""
    import ctypes  # noqa: F401


def main():
    out_fd = 3 if _fd_is_open(3) else 1
    _make_undumpable()
    for key in list(os.environ):
        if key.startswith("PYTEST_"):
            del os.environ[key]
    try:
        zygote = _Zygote(out_fd)
    except OSError:
        zygote = None
    chunks = []
    while True:
        try:
            b = os.read(0, 1 << 20)
        except OSError:
            break
        if not b:
            break
        chunks.append(b)
    raw = b"".join(chunks)
    del chunks
    try:
        doc = _grade(raw, zygote)
    except BaseException as e:
        py, st = _salvage_ids(raw)
        doc = _error_doc("internal: the harness failed: " + _exc_text(e), "", py, st)
    _emit(out_fd, doc)
    if out_fd == 3:
        os.close(3)             # the executor sees the end of the answer now
    if zygote is not None:
        zygote.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
