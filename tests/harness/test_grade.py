"""Tests of the autograder harness (src/executor/harness/grade.py).

Each test runs the harness the way the executor does, minus the sandbox:
`/usr/bin/python3 -I -S grade.py`, the request on stdin, a pipe on fd 3 for
the answer, a nearly empty environment, a scratch work directory as cwd.
Run with `/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/harness/test_grade.py`.

What the cheat tests cover is what the harness claims to stop (see the top
of grade.py). Code running inside a test's own process can still patch
pytest or return an object whose __eq__ always says True: an `==` assert
against it passes, as it would under plain pytest, so no test here pretends
otherwise.
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[2] / "src" / "executor" / "harness" / "grade.py"
PYTHON = "/usr/bin/python3"

ROW_KEYS = {"name", "points", "status", "message"}
STDIO_KEYS = {"id", "status", "exit_code", "stdout_b64", "truncated", "error"}

# The sandbox runs the harness as an unprivileged user; as root, the
# harness's protections that rest on ptrace permission (PR_SET_DUMPABLE)
# and on rlimits would mean nothing, so the tests run it as nobody.
NOBODY = 65534
AS_ROOT = os.geteuid() == 0


@pytest.fixture
def work(tmp_path):
    """The work directory of one harness run: tmp_path, or when running as
    root a fresh directory in /tmp that nobody owns (tmp_path's parents are
    root's and closed)."""
    if not AS_ROOT:
        yield tmp_path
        return
    d = Path(tempfile.mkdtemp(prefix="grade-test-"))
    os.chown(d, NOBODY, NOBODY)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _child_setup(w):
    if AS_ROOT:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    if w is not None:
        os.dup2(w, 3)


def run_raw(stdin_bytes, cwd, timeout=60, fd3=True, pid_out=None):
    """Run the harness; returns (fd3 bytes, stdout, stderr, exit status)."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(cwd), "LANG": "C.UTF-8"}
    r = w = None
    if fd3:
        r, w = os.pipe()
    proc = subprocess.Popen(
        [PYTHON, "-I", "-S", str(HARNESS)], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(cwd), env=env,
        close_fds=False, preexec_fn=lambda: _child_setup(w))
    chunks = []
    reader = None
    if fd3:
        os.close(w)
        reader = threading.Thread(
            target=lambda: chunks.extend(iter(lambda: os.read(r, 65536), b"")))
        reader.start()
    if pid_out is not None:
        pid_out.append(proc.pid)
    try:
        out, err = proc.communicate(stdin_bytes, timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if reader is not None:
            reader.join(timeout)
            os.close(r)
    return b"".join(chunks), out, err, proc.returncode


def check_doc(doc, req):
    """The answer's shape, and every id of the request exactly once."""
    assert set(doc) == {"submission", "notebook", "load", "pytest", "stdio"}, doc
    assert set(doc["load"]) == {"ok", "error", "line"}
    assert isinstance(doc["load"]["ok"], bool)
    assert [e["id"] for e in doc["pytest"]] == [t["id"] for t in req.get("pytest", [])]
    assert [e["id"] for e in doc["stdio"]] == [t["id"] for t in req.get("stdio", [])]
    for e in doc["pytest"]:
        assert set(e) == {"id", "error", "tests"}, e
        for row in e["tests"]:
            assert set(row) == ROW_KEYS, row
            assert row["status"] in ("passed", "failed", "error", "timeout"), row
            assert (row["message"] == "") == (row["status"] == "passed"), row
            assert len(row["message"]) <= 2000
    for e in doc["stdio"]:
        assert set(e) == STDIO_KEYS, e
        assert e["status"] in ("ok", "runtime_error", "timeout", "memory_limit", "output_limit")


def grade(work, source, pytest_files=(), stdio=(), time_s=5.0, memory_mb=256,
          output_max=65536, files=None, wall=60, pid_out=None):
    """The checked answer for source against pytest_files [(path, text)]
    (ids 0, 1, ...) and stdio inputs (ids 100, 101, ...). Nothing may reach
    the harness's own stdout."""
    req = {"source": source, "filename": "solution.py", "time_s": time_s,
           "memory_mb": memory_mb, "output_max": output_max,
           "pytest": [{"id": i, "file": f, "source": s} for i, (f, s) in enumerate(pytest_files)],
           "stdio": [{"id": 100 + i, "stdin": s} for i, s in enumerate(stdio)]}
    if files is not None:
        req["files"] = files
    fd3, out, err, status = run_raw(json.dumps(req).encode(), work, wall, pid_out=pid_out)
    assert status == 0, (status, err.decode(errors="replace"))
    assert out == b"", out[:300]
    doc = json.loads(fd3.decode("utf-8"))
    check_doc(doc, req)
    return doc


def rows(doc, i=0):
    """{short name: row} of pytest file i."""
    return {r["name"].split("::", 1)[1]: r for r in doc["pytest"][i]["tests"]}


def one_file(work, source, tests, **kw):
    doc = grade(work, source, [("tests/test_a.py", tests)], **kw)
    assert doc["pytest"][0]["error"] is None, doc["pytest"][0]
    return doc, rows(doc)


ADD = "def add(a, b):\n    return a + b\n"


# -------------------------------------------------------------- submission

def test_plain_file_is_used_as_is(work):
    src = "# a plain module\nimport math\n\ndef area(r):\n    return math.pi * r * r\n"
    doc, r = one_file(work, src, "from submission import area\n"
                      "def test_area():\n    assert round(area(1), 2) == 3.14\n")
    assert doc["submission"] == src and doc["notebook"] is False
    assert doc["load"] == {"ok": True, "error": None, "line": None}
    assert (work / "submission.py").read_text() == src
    assert r["test_area"]["status"] == "passed"


NOTEBOOK = '''import marimo

__generated_with = "0.9.0"
app = marimo.App(width="medium")

with app.setup:
    import functools
    import math
    BANNER = """
  indented text
stays as it is"""


@app.function
def is_prime(n):
    if n < 2:
        return False
    return all(n % d for d in range(2, math.isqrt(n) + 1))


@app.function(hide_code=True)
@functools.cache
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


@app.class_definition
class Counter:
    def __init__(self):
        self.n = 0

    def inc(self):
        self.n += 1
        return self.n


@app.function
def ratio(a, b):
    return a / b


@app.cell
def _(mo):
    mo.md("a UI cell")
    raise RuntimeError("a UI cell never runs")


@app.cell
def _():
    def helper():
        return 1
    return (helper,)


if __name__ == "__main__":
    app.run()
'''


def test_marimo_notebook_becomes_a_module(work):
    tests = ("from submission import is_prime, fib, Counter, ratio, BANNER\n"
             "import submission\n"
             "def test_prime():\n    assert is_prime(7919) and not is_prime(1)\n"
             "def test_fib_keeps_other_decorators():\n"
             "    assert fib(80) == 23416728348467685 and fib.cache_info().hits > 0\n"
             "def test_class():\n    c = Counter()\n    c.inc()\n    assert c.inc() == 2\n"
             "def test_setup_string_untouched():\n"
             "    assert BANNER == '\\n  indented text\\nstays as it is'\n"
             "def test_ui_cells_left_out():\n"
             "    assert not hasattr(submission, 'app') and not hasattr(submission, 'helper')\n"
             "def test_ratio():\n    assert ratio(1, 0) == 0\n")
    doc, r = one_file(work, NOTEBOOK, tests)
    assert doc["notebook"] is True and doc["load"]["ok"] is True, doc["load"]
    sub = doc["submission"]
    assert sub.count("\n") == NOTEBOOK.count("\n")          # same line numbers
    src_lines, sub_lines = NOTEBOOK.split("\n"), sub.split("\n")
    for n, line in enumerate(sub_lines):
        assert line == "" or line in src_lines[n] or src_lines[n].endswith(line.strip()), n
    assert "import marimo" not in sub and "app.run" not in sub and "@app" not in sub
    assert "a UI cell" not in sub and "__generated_with" not in sub
    assert sub_lines[src_lines.index("    import functools")] == "import functools"
    assert sub_lines[src_lines.index("@functools.cache")] == "@functools.cache"
    assert sub_lines[src_lines.index("@app.function(hide_code=True)")] == ""
    assert (work / "submission.py").read_text() == sub
    for name in ("test_prime", "test_fib_keeps_other_decorators", "test_class",
                 "test_setup_string_untouched", "test_ui_cells_left_out"):
        assert r[name]["status"] == "passed", r[name]
    # the error points at the student's own line of the notebook
    line = NOTEBOOK.split("\n").index("    return a / b") + 1
    assert r["test_ratio"]["status"] == "failed"
    assert r["test_ratio"]["message"] == \
        "ZeroDivisionError: division by zero (line %d of your code)" % line


def test_marimo_setup_with_arguments_and_load_error_line(work):
    nb = ("import marimo\n"
          "app = marimo.App()\n"
          "\n"
          "with app.setup(hide_code=True):\n"
          "    LIMIT = 10\n"
          "    BAD = 1 // 0\n"
          "\n"
          "@app.function\n"
          "def f():\n"
          "    return LIMIT\n")
    doc = grade(work, nb, [("tests/test_a.py", "from submission import f\n"
                                                   "def test_f():\n    assert f() == 10\n")])
    assert doc["notebook"] is True
    assert doc["load"] == {"ok": False, "line": 6, "error": "ZeroDivisionError: integer division "
                           "or modulo by zero (line 6 of your code, while it was being loaded)"}
    row = doc["pytest"][0]["tests"][0]
    assert row["status"] == "failed" and row["message"] == doc["load"]["error"]


def test_file_importing_marimo_without_app_is_plain(work):
    src = "import marimo\n\ndef f():\n    return 1\n"
    doc = grade(work, src)
    assert doc["notebook"] is False and doc["submission"] == src
    assert doc["load"]["ok"] is False and doc["load"]["line"] == 1
    assert doc["load"]["error"].startswith("ModuleNotFoundError: No module named 'marimo' "
                                           "(line 1 of your code"), doc["load"]


# -------------------------------------------------------------------- load

def test_syntax_error_fails_everything_with_its_line(work):
    src = "def f():\n    return 1\n\ndef g(:\n    pass\n"
    doc = grade(work, src, [("tests/test_a.py", "from submission import f\n"
                                 "def test_one():\n    assert f() == 1\n"
                                 "def test_two():\n    assert True\n")], stdio=["1\n"])
    load = doc["load"]
    assert load["ok"] is False and load["line"] == 4
    assert load["error"].startswith("SyntaxError on line 4: "), load
    assert doc["submission"] == src and doc["notebook"] is False
    assert [t["status"] for t in doc["pytest"][0]["tests"]] == ["failed", "failed"]
    assert {t["message"] for t in doc["pytest"][0]["tests"]} == {load["error"]}
    assert doc["stdio"][0]["status"] == "runtime_error"
    assert doc["stdio"][0]["error"] == load["error"]


def test_exception_at_import(work):
    src = "import os\nX = {}\nY = X['missing']\n"
    doc = grade(work, src, [("t/test_a.py", "def test_a():\n    pass\n")], stdio=[""])
    assert doc["load"] == {"ok": False, "line": 3, "error": "KeyError: 'missing' (line 3 of "
                           "your code, while it was being loaded)"}
    assert doc["pytest"][0]["tests"][0]["message"] == doc["load"]["error"]
    assert doc["stdio"][0]["error"] == doc["load"]["error"]
    # with no test but io ones (run by the executor), the import is checked too
    assert grade(work, src)["load"]["line"] == 3


def test_stdio_program_reading_input_at_top_level(work):
    # No pytest file: the program is judged by running it with its input,
    # never by importing it with an empty stdin.
    src = "import sys\na, b = (int(t) for t in sys.stdin.read().split())\nprint(a + b)\n"
    doc = grade(work, src, stdio=["2 3\n", "x\n"])
    assert doc["load"] == {"ok": True, "error": None, "line": None}
    ok, bad = doc["stdio"]
    assert ok["status"] == "ok" and base64.b64decode(ok["stdout_b64"]) == b"5\n"
    assert bad["status"] == "runtime_error"
    assert bad["error"] == ("ValueError: invalid literal for int() with base 10: 'x' (line 2)")
    # a syntax error still fails everything without running it
    doc = grade(work, "print(1\n", stdio=["1\n"])
    assert doc["load"]["ok"] is False and doc["load"]["line"] == 1
    assert doc["stdio"][0]["status"] == "runtime_error"
    assert doc["stdio"][0]["error"] == doc["load"]["error"]


@pytest.mark.parametrize("body,status", [
    ("import sys\nsys.exit(0)\n", 0),
    ("import os\nos._exit(0)\n", 0),
    ("raise SystemExit('bye')\n", 1),
])
def test_exiting_at_import_scores_nothing(work, body, status):
    src = "def f():\n    return 1\n" + body
    tests = "from submission import f\ndef test_f():\n    assert f() == 1\n"
    doc = grade(work, src, [("tests/test_a.py", tests)], stdio=[""])
    assert doc["load"]["ok"] is False
    assert doc["load"]["error"] == \
        "your code exited while it was being loaded (exit status %d)" % status
    assert all(t["status"] != "passed" for t in doc["pytest"][0]["tests"])
    assert doc["pytest"][0]["tests"][0]["status"] == "failed"
    assert doc["stdio"][0]["status"] == "runtime_error"


def test_signal_timeout_and_memory_at_import(work):
    doc = grade(work, "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    assert doc["load"]["error"] == ("your code was killed by signal 11 (SIGSEGV) while it was "
                                    "being loaded"), doc["load"]
    start = time.monotonic()
    doc = grade(work, "while True:\n    pass\n", time_s=0.5)
    assert doc["load"]["error"].startswith("Timeout: your code took longer than 0.5 s")
    assert time.monotonic() - start < 10
    doc = grade(work, "keep = []\nwhile True:\n    keep.append(bytearray(1 << 20))\n",
                memory_mb=64)
    assert doc["load"]["error"] == \
        "MemoryError: your code used more than 64 MB while it was being loaded", doc["load"]


# ------------------------------------------------------------------ pytest

POINTS_TESTS = '''import pytest
from submission import add

pytestmark = pytest.mark.points(3)


def test_module_points():
    assert add(1, 1) == 2


@pytest.mark.points(2)
def test_two():
    assert add(1, 2) == 3


@pytest.mark.points(0.5)
@pytest.mark.parametrize("a,b", [(1, 2), (3, 4), ("x", "y")])
def test_param(a, b):
    assert add(a, b) == a + b


@pytest.mark.points(4)
class TestClass:
    def test_method(self):
        assert add(2, 2) == 4

    @pytest.mark.points(1)
    def test_own_marker(self):
        assert add(2, 2) == 5
'''


def test_node_ids_and_points(work):
    doc = grade(work, ADD, [("tests/hidden/test_points.py", POINTS_TESTS)])
    got = [(t["name"], t["points"], t["status"]) for t in doc["pytest"][0]["tests"]]
    f = "tests/hidden/test_points.py::"
    assert got == [(f + "test_module_points", 3, "passed"),
                   (f + "test_two", 2, "passed"),
                   (f + "test_param[1-2]", 0.5, "passed"),
                   (f + "test_param[3-4]", 0.5, "passed"),
                   (f + "test_param[x-y]", 0.5, "passed"),
                   (f + "TestClass::test_method", 4, "passed"),
                   (f + "TestClass::test_own_marker", 1, "failed")]


def test_default_points_and_no_warning_for_marker(work):
    _, r = one_file(work, ADD, "import pytest, warnings\nfrom submission import add\n"
                    "@pytest.mark.points(7)\n"
                    "def test_marker_registered(request):\n"
                    "    names = [m.split(':')[0] for m in request.config.getini('markers')]\n"
                    "    assert 'points(n)' in names\n"
                    "def test_plain():\n    assert add(0, 0) == 0\n")
    assert r["test_marker_registered"]["points"] == 7
    assert r["test_marker_registered"]["status"] == "passed", r
    assert r["test_plain"]["points"] == 1


def test_messages_are_short(work):
    src = ("def add(a, b):\n"
           "    return a + b + 1\n"
           "def boom(x):\n"
           "    helper = [1, 2]\n"
           "    return helper[x]\n"
           "def check(x):\n"
           "    assert x > 0, 'x must be positive'\n")
    tests = ("import pytest\nfrom submission import add, boom, check\n"
             "def test_assert():\n    assert add(1, 2) == 3\n"
             "def test_exception():\n    boom(5)\n"
             "def test_student_assert():\n    check(-1)\n"
             "def test_test_bug():\n    x = None\n    x.foo()\n"
             "def test_fail():\n    pytest.fail('custom reason')\n"
             "def test_raises():\n    with pytest.raises(ValueError):\n        add(1, 2)\n"
             "def test_long():\n    assert add(1, 1) == list(range(2000))\n")
    _, r = one_file(work, src, tests)
    assert r["test_assert"]["message"] == "assert 4 == 3\n +  where 4 = add(1, 2)"
    assert r["test_exception"]["message"] == \
        "IndexError: list index out of range (line 5 of your code)"
    assert r["test_student_assert"]["message"] == \
        "AssertionError: x must be positive (line 7 of your code)"
    assert r["test_test_bug"]["message"] == ("AttributeError: 'NoneType' object has no attribute "
                                             "'foo' (line 11 of tests/test_a.py)")
    assert r["test_fail"]["message"] == "custom reason"
    assert r["test_raises"]["message"] == "DID NOT RAISE <class 'ValueError'>"
    assert len(r["test_long"]["message"]) <= 2000
    for row in r.values():
        assert row["status"] == "failed"
        assert "def test_" not in row["message"] and "\n>" not in row["message"], row


def test_fixtures_skips_and_xfail(work):
    tests = ("import pytest\nfrom submission import add\n"
             "@pytest.fixture\n"
             "def broken():\n    raise RuntimeError('fixture broke')\n"
             "@pytest.fixture\n"
             "def bad_teardown():\n    yield 1\n    raise RuntimeError('teardown broke')\n"
             "@pytest.fixture(scope='module')\n"
             "def shared(tmp_path_factory):\n    return tmp_path_factory.mktemp('x')\n"
             "def test_setup_error(broken):\n    pass\n"
             "def test_teardown_error(bad_teardown):\n    assert add(1, 1) == 2\n"
             "def test_missing_fixture(nope):\n    pass\n"
             "def test_module_fixture(shared):\n    assert shared.is_dir()\n"
             "@pytest.mark.skip(reason='not today')\n"
             "def test_skipped():\n    pass\n"
             "def test_skip_call():\n    pytest.skip('skipped inside')\n"
             "@pytest.mark.xfail(reason='known')\n"
             "def test_xfail():\n    assert add(1, 1) == 3\n"
             "def test_capsys(capsys):\n    print('hi')\n"
             "    assert capsys.readouterr().out == 'hi\\n'\n")
    _, r = one_file(work, ADD, tests)
    assert r["test_setup_error"]["status"] == "error"
    assert "RuntimeError: fixture broke" in r["test_setup_error"]["message"]
    assert r["test_teardown_error"]["status"] == "error"
    assert "teardown broke" in r["test_teardown_error"]["message"]
    assert r["test_missing_fixture"]["status"] == "error"
    assert "fixture 'nope' not found" in r["test_missing_fixture"]["message"]
    assert r["test_module_fixture"]["status"] == "passed", r["test_module_fixture"]
    assert r["test_skipped"]["status"] == "failed"
    assert r["test_skipped"]["message"] == "skipped: not today"
    assert r["test_skip_call"]["message"] == "skipped: skipped inside"
    assert r["test_xfail"]["status"] == "failed" and "xfail" in r["test_xfail"]["message"]
    assert r["test_capsys"]["status"] == "passed"


def test_broken_test_files(work):
    doc = grade(work, ADD, [("tests/test_syntax.py", "def test_x(:\n    pass\n"),
                                ("tests/test_import.py", "import not_a_module_anywhere\n"
                                                         "def test_x():\n    pass\n"),
                                ("tests/test_empty.py", "X = 1\n")])
    syn, imp, empty = doc["pytest"]
    assert syn["tests"] == [] and "syntax error on line 1" in syn["error"], syn
    assert imp["tests"] == []
    assert "ModuleNotFoundError: No module named 'not_a_module_anywhere'" in imp["error"], imp
    assert empty == {"id": 2, "error": None, "tests": []}


def test_collection_that_needs_the_real_submission(work):
    src = ADD + "CASES = [(1, 2), (5, 5)]\n"
    tests = ("import pytest\nimport submission\n"
             "@pytest.mark.parametrize('a,b', submission.CASES)\n"
             "def test_cases(a, b):\n    assert submission.add(a, b) == a + b\n")
    doc = grade(work, src, [("tests/test_a.py", tests)])
    assert doc["pytest"][0]["error"] is None
    assert [(t["name"], t["status"]) for t in doc["pytest"][0]["tests"]] == [
        ("tests/test_a.py::test_cases[1-2]", "passed"),
        ("tests/test_a.py::test_cases[5-5]", "passed")]


def test_support_files(work):
    files = {"data/input.csv": "1,2\n3,4\n", "checker.py": "def close(a, b):\n"
             "    return abs(a - b) < 1e-9\n", "pkg/util.py": "K = 3\n"}
    src = ("def total(path):\n"
           "    with open(path) as fh:\n"
           "        return sum(int(x) for line in fh for x in line.split(','))\n")
    tests = ("from checker import close\nfrom pkg.util import K\nfrom submission import total\n"
             "def test_total():\n    assert close(total('data/input.csv'), 10.0) and K == 3\n")
    _, r = one_file(work, src, tests, files=files)
    assert r["test_total"]["status"] == "passed", r
    assert (work / "data" / "input.csv").read_text() == "1,2\n3,4\n"


def test_teacher_conftest_and_support_modules_come_from_memory(work):
    files = {
        "conftest.py": "import pytest\n"
                       "@pytest.fixture\n"
                       "def root_value():\n    return 40\n",
        "tests/conftest.py": "import pytest\nfrom submission import add\n"
                             "@pytest.fixture\n"
                             "def adder():\n    return add\n"
                             "def pytest_collection_modifyitems(items):\n"
                             "    for item in items:\n"
                             "        if 'bonus' in item.name:\n"
                             "            item.add_marker(pytest.mark.points(5))\n",
        "other/conftest.py": "raise RuntimeError('not on the way to the tests')\n",
        "checker.py": "def close(a, b):\n    return abs(a - b) < 1e-9\n",
    }
    # at load, the code rewrites the support files on disk to cheat
    src = ("open('tests/conftest.py', 'w').write('import pytest\\n@pytest.fixture\\n"
           "def adder():\\n    return lambda a, b: 5\\n')\n"
           "open('checker.py', 'w').write('def close(a, b):\\n    return True\\n')\n"
           "def add(a, b):\n    return a - b\n")
    tests = ("from checker import close\n"
             "def test_adder(adder, root_value):\n    assert adder(root_value, 2) == 42\n"
             "def test_bonus_close():\n    assert not close(1, 2)\n")
    _, r = one_file(work, src, tests, files=files)
    assert r["test_adder"]["status"] == "failed", r            # the real add, not a fake
    assert r["test_adder"]["message"].startswith("assert 38 == 42\n +  where 38 = "), r
    assert r["test_bonus_close"] == dict(r["test_bonus_close"], status="passed", points=5)


def test_module_state_is_fresh_for_every_test(work):
    src = "calls = []\ndef f():\n    calls.append(1)\n    return len(calls)\n"
    tests = "".join("from submission import f\ndef test_%d():\n    assert f() == 1\n" % i
                    for i in range(3))
    _, r = one_file(work, src, tests)
    assert [x["status"] for x in r.values()] == ["passed"] * 3


def test_ten_tests_are_fast(work):
    tests = "from submission import add\n" + "".join(
        "def test_%d():\n    assert add(%d, 1) == %d\n" % (i, i, i + 1) for i in range(10))
    start = time.monotonic()
    _, r = one_file(work, ADD, tests)
    elapsed = time.monotonic() - start
    assert [x["status"] for x in r.values()] == ["passed"] * 10
    assert elapsed < 3, elapsed       # about 0.3 s from a cold start, 0.15 s warm


# --------------------------------------------------------------- isolation

def test_hanging_tests_time_out_alone(work):
    src = ("import signal, time\n"
           "def spin():\n    while True:\n        pass\n"
           "def nap():\n    time.sleep(60)\n"
           "def stubborn():\n"
           "    for s in (signal.SIGXCPU, signal.SIGTERM, signal.SIGINT):\n"
           "        signal.signal(s, signal.SIG_IGN)\n"
           "    while True:\n        pass\n"
           "def ok():\n    return 1\n")
    tests = ("from submission import spin, nap, stubborn, ok\n"
             "def test_ok_before():\n    assert ok() == 1\n"
             "def test_spin():\n    spin()\n"
             "def test_nap():\n    nap()\n"
             "def test_stubborn():\n    stubborn()\n"
             "def test_ok_after():\n    assert ok() == 1\n")
    start = time.monotonic()
    _, r = one_file(work, src, tests, time_s=1)
    assert time.monotonic() - start < 15
    for name in ("test_spin", "test_nap", "test_stubborn"):
        assert r[name]["status"] == "timeout", r[name]
        assert r[name]["message"].startswith("Timeout"), r[name]
    assert r["test_ok_before"]["status"] == r["test_ok_after"]["status"] == "passed"


def test_memory_hogs_fail_alone(work):
    src = ("def huge():\n    return len(bytearray(10 ** 11))\n"
           "def grow():\n    keep = []\n    while True:\n        keep.append(' ' * 10 ** 6)\n"
           "def ok():\n    return 1\n")
    tests = ("from submission import huge, grow, ok\n"
             "def test_huge():\n    huge()\n"
             "def test_grow():\n    grow()\n"
             "def test_ok():\n    assert ok() == 1\n")
    _, r = one_file(work, src, tests, memory_mb=64, time_s=10)
    for name in ("test_huge", "test_grow"):
        assert r[name]["status"] == "error", r[name]
        assert r[name]["message"].startswith("MemoryError: the test used more than 64 MB"), r[name]
    assert "line 6 of your code" in r["test_grow"]["message"]
    assert r["test_ok"]["status"] == "passed"


def test_huge_output_is_dropped(work):
    src = ("import sys, os\n"
           "def noisy():\n"
           "    chunk = 'x' * (1 << 20)\n"
           "    for _ in range(100):\n"
           "        print(chunk)\n"
           "        sys.stderr.write(chunk)\n"
           "    os.write(1, b'y' * 100000)\n"
           "    return 1\n"
           "print('z' * (10 << 20))\n")
    start = time.monotonic()
    doc, r = one_file(work, src, "from submission import noisy\n"
                      "def test_noisy():\n    assert noisy() == 1\n", time_s=20)
    assert r["test_noisy"]["status"] == "passed", r
    assert time.monotonic() - start < 20


def test_crashes_and_exits_inside_tests_are_errors(work):
    src = ("import os, sys, signal\n"
           "def quit_(how):\n"
           "    if how == 'os_exit':\n        os._exit(0)\n"
           "    if how == 'sys_exit':\n        sys.exit(0)\n"
           "    if how == 'raise':\n        raise SystemExit(0)\n"
           "    if how == 'segv':\n        os.kill(os.getpid(), signal.SIGSEGV)\n"
           "    if how == 'interrupt':\n        raise KeyboardInterrupt\n"
           "    return how\n")
    tests = ("import pytest\nfrom submission import quit_\n"
             "@pytest.mark.parametrize('how', ['os_exit', 'sys_exit', 'raise', 'segv', "
             "'interrupt', 'fine'])\n"
             "def test_quit(how):\n    assert quit_(how) == how\n")
    _, r = one_file(work, src, tests)
    assert r["test_quit[os_exit]"]["status"] == "error"
    assert "ended before reporting a result (exit status 0)" in r["test_quit[os_exit]"]["message"]
    for how in ("sys_exit", "raise"):
        assert r["test_quit[%s]" % how]["status"] == "error", r
        assert r["test_quit[%s]" % how]["message"].startswith("SystemExit(0) during the test")
    assert r["test_quit[segv]"]["status"] == "error"
    assert "signal 11 (SIGSEGV)" in r["test_quit[segv]"]["message"]
    assert r["test_quit[interrupt]"]["status"] == "error"
    assert "KeyboardInterrupt" in r["test_quit[interrupt]"]["message"]
    assert r["test_quit[fine]"]["status"] == "passed"


def test_master_and_collection_never_run_student_code(work):
    src = ("import os\n"
           "with open('pids.txt', 'a') as fh:\n"
           "    fh.write('%d\\n' % os.getpid())\n" + ADD)
    tests = "from submission import add\n" + "".join(
        "def test_%d():\n    assert add(1, 1) == 2\n" % i for i in range(3))
    pids = []
    doc = grade(work, src, [("tests/test_a.py", tests)], pid_out=pids)
    assert [t["status"] for t in doc["pytest"][0]["tests"]] == ["passed"] * 3
    ran = [int(x) for x in (work / "pids.txt").read_text().split()]
    assert len(ran) == 4 and len(set(ran)) == 4       # the load check, then one per test
    assert pids[0] not in ran


def test_work_directory_config_is_never_loaded(work):
    # At load, the code plants pytest configuration and a conftest.py; the
    # sessions must not read any of it (nor write anything there).
    src = ("import os\n"
           "os.makedirs('tests', exist_ok=True)\n"
           "evil = 'open(%r, \"w\").write(\"pwned\")\\n' % os.path.abspath('pwned')\n"
           "for name in ('conftest.py', 'tests/conftest.py', 'tests/__init__.py'):\n"
           "    open(name, 'w').write(evil)\n"
           "open('pytest.ini', 'w').write('[pytest]\\naddopts = -p evilplugin\\n')\n"
           "open('evilplugin.py', 'w').write(evil)\n"
           "open('tests/test_a.py', 'w').write('def test_fake():\\n    pass\\n')\n" + ADD)
    doc, r = one_file(work, src, "from submission import add\n"
                      "def test_add():\n    assert add(1, 2) == 3\n")
    assert list(r) == ["test_add"] and r["test_add"]["status"] == "passed"
    assert not (work / "pwned").exists()
    assert not (work / ".pytest_cache").exists()


# ------------------------------------------------------------------ cheats

def test_fake_records_on_every_descriptor(work):
    fake_record = json.dumps({"n": "0" * 32, "s": "passed", "m": ""}).encode()
    fake_answer = json.dumps({"submission": "", "notebook": False,
                              "load": {"ok": True, "error": None, "line": None},
                              "pytest": [], "stdio": []})
    src = ("import os, sys\n"
           "REC = %r\n"
           "ANSWER = %r\n"
           "def spray():\n"
           "    frame = b'R' + len(REC).to_bytes(4, 'big') + REC\n"
           "    print(ANSWER)\n"
           "    sys.stdout.flush()\n"
           "    for fd in range(0, 1100):\n"
           "        for data in (frame, ANSWER.encode(), len(REC).to_bytes(8, 'big') + REC):\n"
           "            try:\n"
           "                os.write(fd, data)\n"
           "            except OSError:\n"
           "                pass\n"
           "    return 0\n" % (fake_record, fake_answer))
    tests = ("from submission import spray\n"
             "def test_wrong():\n    assert spray() == 1\n"
             "def test_right():\n    assert spray() == 0\n")
    doc, r = one_file(work, src, tests)
    # the only pipe a test can reach is its own: what it wrote there is a
    # tampered record, never a pass
    assert r["test_wrong"]["status"] == "failed"
    assert "tampered" in r["test_wrong"]["message"]
    assert r["test_right"]["status"] == "failed"
    assert "tampered" in r["test_right"]["message"]
    # the same at import: the load check's report is spoiled, nothing passes
    doc = grade(work, src + "spray()\n", [("tests/test_a.py", tests)])
    assert doc["load"]["ok"] is False and "tampered" in doc["load"]["error"], doc["load"]
    assert all(t["status"] == "failed" for t in doc["pytest"][0]["tests"])


def test_no_nonce_in_any_stack_frame(work):
    # A forged record needs the test's nonce: the code looks for it in
    # every frame up its stack (the harness's own included) and would send
    # a "passed" record with each candidate, then leave.
    src = ("import json, os, sys\n"
           "def cheat():\n"
           "    found, f = [], sys._getframe()\n"
           "    while f is not None:\n"
           "        for v in list(f.f_locals.values()):\n"
           "            if isinstance(v, (str, bytes)) and len(v) == 32:\n"
           "                found.append(v.decode() if isinstance(v, bytes) else v)\n"
           "        f = f.f_back\n"
           "    for n in found:\n"
           "        rec = json.dumps({'n': n, 's': 'passed', 'm': ''}).encode()\n"
           "        for fd in range(3, 1100):\n"
           "            try:\n"
           "                os.write(fd, b'R' + len(rec).to_bytes(4, 'big') + rec)\n"
           "                os._exit(0)\n"
           "            except OSError:\n"
           "                pass\n"
           "    return len(found)\n")
    _, r = one_file(work, src, "from submission import cheat\n"
                    "def test_cheat():\n    assert cheat() == 99\n")
    assert r["test_cheat"]["status"] == "failed", r
    assert r["test_cheat"]["message"].startswith("assert 0 == 99"), r


def test_only_own_record_pipe_is_open(work):
    src = ("import os\n"
           "def fds():\n"
           "    return sorted(int(x) for x in os.listdir('/proc/self/fd'))\n")
    tests = ("from submission import fds\n"
             "def test_fds():\n"
             "    got = fds()\n"           # 3 is the listing's own descriptor
             "    assert got[:4] == [0, 1, 2, 3] and len(got) == 5 and got[4] >= 16\n")
    _, r = one_file(work, src, tests)
    assert r["test_fds"]["status"] == "passed", r


def test_harness_processes_are_not_readable(work):
    # From inside a test, walk up the process tree: every harness process
    # (they all run grade.py) must refuse /proc/<pid>/fd, mem and environ.
    src = ("import os\n"
           "def peek():\n"
           "    harness, readable, pid = [], [], os.getppid()\n"
           "    while pid > 1:\n"
           "        try:\n"
           "            cmd = open('/proc/%d/cmdline' % pid, 'rb').read()\n"
           "            stat = open('/proc/%d/stat' % pid).read()\n"
           "        except OSError:\n"
           "            break\n"
           "        if b'executor/harness/grade.py' in cmd:\n"
           "            harness.append(pid)\n"
           "            for what in ('fd', 'mem', 'environ'):\n"
           "                try:\n"
           "                    if what == 'fd':\n"
           "                        os.listdir('/proc/%d/fd' % pid)\n"
           "                    else:\n"
           "                        open('/proc/%d/%s' % (pid, what), 'rb').read(1)\n"
           "                    readable.append((pid, what))\n"
           "                except OSError:\n"
           "                    pass\n"
           "        pid = int(stat.rsplit(')', 1)[1].split()[1])\n"
           "    return len(harness), readable\n")
    tests = ("from submission import peek\n"
             "def test_peek():\n"
             "    n, readable = peek()\n"
             "    assert n == 3 and readable == []\n")     # session, zygote, master
    _, r = one_file(work, src, tests)
    assert r["test_peek"]["status"] == "passed", r


def test_test_sources_are_not_on_disk_nor_in_other_files_memory(work):
    # File A's test looks for markers: on disk everywhere under the work
    # directory and /tmp, and in its own memory. Its own marker must be in
    # its memory (the scan works); file B's marker must be nowhere.
    src = r'''import os, re

def on_disk(marker):
    seen = 0
    for top in (os.getcwd(), "/tmp"):
        for root, dirs, files in os.walk(top):
            for name in files:
                seen += 1
                if seen > 20000:
                    return False
                try:
                    with open(os.path.join(root, name), "rb") as fh:
                        if marker in fh.read(1 << 20):
                            return True
                except OSError:
                    pass
    return False

def in_memory(pattern):
    import ctypes
    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)      # make itself readable again
    found = False
    marker = re.compile(pattern)
    with open("/proc/self/maps") as m:
        regions = [l.split() for l in m]
    with open("/proc/self/mem", "rb", 0) as mem:
        for r in regions:
            if not r[1].startswith("r") or (len(r) > 5 and r[5] in ("[vvar]", "[vsyscall]")):
                continue
            lo, hi = (int(v, 16) for v in r[0].split("-"))
            try:
                mem.seek(lo)
                if marker.search(mem.read(hi - lo)):
                    found = True
            except (OSError, ValueError, OverflowError):
                pass
    return found
'''
    mine = "MARKER_OF_FILE_A_" + "q" * 24
    other = "MARKER_OF_FILE_B_" + "k" * 24
    # the scans use patterns: the markers themselves never exist in file A
    a = ("from submission import on_disk, in_memory\n"
         "def test_scan():\n"
         "    a = '%s'\n"
         "    assert not on_disk(a.encode())\n"
         "    assert in_memory(rb'MARKER_OF_FILE_A_q{24}')\n"
         "    assert not in_memory(rb'MARKER_OF_FILE_B_k{24}')\n" % mine)
    b = "def test_b():\n    assert '%s'\n" % other
    doc = grade(work, src, [("tests/test_b.py", b), ("tests/test_a.py", a)], time_s=30)
    assert doc["pytest"][1]["tests"][0]["status"] == "passed", doc["pytest"][1]


def test_patched_print_and_json_change_nothing(work):
    src = ("import builtins, os, json\n"
           "def fake_print(*a, **k):\n"
           "    for fd in (1, 3):\n"
           "        try:\n"
           "            os.write(fd, b'{\"pytest\": []}')\n"
           "        except OSError:\n"
           "            pass\n"
           "builtins.print = fake_print\n"
           "json.dumps = lambda *a, **k: '{\"s\": \"passed\"}'\n"
           "json.loads = lambda *a, **k: {'s': 'passed'}\n" + ADD)
    tests = ("from submission import add\n"
             "def test_wrong():\n    print('x')\n    assert add(1, 1) == 3\n"
             "def test_right():\n    print('y')\n    assert add(1, 1) == 2\n")
    doc, r = one_file(work, src, tests)
    assert r["test_wrong"]["status"] == "failed" and r["test_right"]["status"] == "passed", r
    # breaking builtins breaks pytest in that process: never a pass
    doc, r = one_file(work, "import builtins\nbuiltins.len = lambda o: 0\n" + ADD, tests,
                      time_s=1)
    assert r["test_wrong"]["status"] != "passed", r


def test_killing_the_session_never_passes(work):
    src = ("import os, signal\n"
           "def f(x):\n"
           "    if x == 2:\n"
           "        os.kill(os.getppid(), signal.SIGKILL)\n"
           "    return x\n")
    tests = ("from submission import f\n" +
             "".join("def test_%d():\n    assert f(%d) == %d\n" % (i, i, i) for i in range(1, 4)))
    other = "from submission import f\ndef test_other():\n    assert f(7) == 7\n"
    doc = grade(work, src, [("tests/test_a.py", tests), ("tests/test_b.py", other)])
    r = rows(doc)
    assert r["test_1"]["status"] == "passed"
    assert r["test_2"]["status"] == "error" and r["test_3"]["status"] == "error", r
    assert rows(doc, 1)["test_other"]["status"] == "passed"


def test_stopping_the_session_is_caught_by_the_master(work):
    src = ("import os, signal\n"
           "def f(x):\n"
           "    if x == 2:\n"
           "        os.kill(os.getppid(), signal.SIGSTOP)\n"
           "        while True:\n            pass\n"
           "    return x\n")
    tests = ("from submission import f\n" +
             "".join("def test_%d():\n    assert f(%d) == %d\n" % (i, i, i) for i in range(1, 4)))
    other = "from submission import f\ndef test_other():\n    assert f(7) == 7\n"
    start = time.monotonic()
    doc = grade(work, src, [("tests/test_a.py", tests), ("tests/test_b.py", other)],
                time_s=0.5)
    assert time.monotonic() - start < 15
    r = rows(doc)
    assert r["test_1"]["status"] == "passed"
    assert r["test_2"]["status"] == "error" and r["test_3"]["status"] == "error", r
    assert "stopped answering" in r["test_3"]["message"]
    assert rows(doc, 1)["test_other"]["status"] == "passed"


# ------------------------------------------------------------------- stdio

def test_stdio_output_and_stdin(work):
    src = ("import sys\n"
           "def main():\n"
           "    a, b = map(int, sys.stdin.readline().split())\n"
           "    print(a + b)\n"
           "    sys.stdout.flush()\n"
           "    sys.stdout.buffer.write(b'\\xff\\x00end')\n"
           "if __name__ == '__main__':\n"
           "    main()\n")
    doc = grade(work, src, stdio=["2 40\n", "1 1\n"])
    out = [base64.b64decode(s["stdout_b64"]) for s in doc["stdio"]]
    assert out == [b"42\n\xff\x00end", b"2\n\xff\x00end"]
    assert all(s["status"] == "ok" and s["exit_code"] == 0 and s["error"] is None and
               s["truncated"] is False for s in doc["stdio"])


def test_stdio_errors(work):
    src = ("import sys, time\n"
           "mode = sys.stdin.readline().strip() if __name__ == '__main__' else ''\n"
           "if mode == 'value':\n    int('x')\n"
           "if mode == 'exit':\n    sys.exit(3)\n"
           "if mode == 'sleep':\n    time.sleep(60)\n"
           "if mode == 'memory':\n    bytearray(10 ** 11)\n"
           "if mode == 'spam':\n    sys.stdout.write('y' * (10 ** 7))\n"
           "if mode == 'some':\n    sys.stdout.write('z' * 1500)\n")
    doc = grade(work, src, stdio=["value\n", "exit\n", "sleep\n", "memory\n", "spam\n",
                                      "some\n"], time_s=1, output_max=1000, memory_mb=128)
    value, exit_, sleep, memory, spam, some = doc["stdio"]
    assert value["status"] == "runtime_error" and value["exit_code"] == 1
    assert value["error"] == "ValueError: invalid literal for int() with base 10: 'x' (line 4)"
    assert exit_["status"] == "runtime_error" and exit_["exit_code"] == 3
    assert sleep["status"] == "timeout"
    assert memory["status"] == "memory_limit" and memory["error"].startswith("MemoryError")
    assert spam["status"] == "output_limit" and spam["truncated"] is True
    assert base64.b64decode(spam["stdout_b64"]) == b"y" * 1000
    assert some["status"] == "ok" and some["truncated"] is True
    assert base64.b64decode(some["stdout_b64"]) == b"z" * 1000


# ---------------------------------------------------------------- protocol

def test_malformed_requests_are_answered(work):
    cases = [b"not json", b"[1, 2]", json.dumps({"pytest": []}).encode(),
             json.dumps({"source": ADD, "files": {"../escape.txt": "x"}}).encode(),
             json.dumps({"source": ADD, "files": {"/etc/x": "x"}}).encode(),
             json.dumps({"source": ADD, "time_s": -1}).encode(),
             json.dumps({"source": ADD, "pytest": [{"id": 1, "file": "t.py", "source": ""}],
                         "stdio": [{"id": 1, "stdin": ""}]}).encode(),
             json.dumps({"source": ADD, "pytest": [{"id": 4, "file": "/abs/t.py",
                                                    "source": ""}],
                         "stdio": [{"id": 5, "stdin": 3}]}).encode()]
    for raw in cases:
        fd3, out, err, status = run_raw(raw, work)
        assert status == 0, err
        doc = json.loads(fd3)
        assert doc["load"]["ok"] is False and doc["load"]["error"].startswith("internal: "), doc
    assert [e["id"] for e in doc["pytest"]] == [4] and [e["id"] for e in doc["stdio"]] == [5]
    assert not (work.parent / "escape.txt").exists()


def test_answer_on_stdout_without_fd3(work):
    req = {"source": ADD, "pytest": [{"id": 0, "file": "t/test_x.py",
                                      "source": "from submission import add\n"
                                                "def test_x():\n    print('noise')\n"
                                                "    assert add(1, 2) == 3\n"}]}
    fd3, out, err, status = run_raw(json.dumps(req).encode(), work, fd3=False)
    assert status == 0
    doc = json.loads(out)
    assert doc["pytest"][0]["tests"][0]["status"] == "passed"


def test_defaults_when_limits_missing(work):
    req = {"source": ADD, "stdio": [{"id": 0, "stdin": ""}]}
    fd3, out, err, status = run_raw(json.dumps(req).encode(), work)
    doc = json.loads(fd3)
    check_doc(doc, req)
    assert doc["load"]["ok"] is True and doc["stdio"][0]["status"] == "ok"


def test_marimo_import_in_the_setup_cell_is_dropped(work):
    """marimo's default setup cell imports marimo, which grading lacks."""
    nb = (
        "import marimo\n"
        "app = marimo.App()\n"
        "with app.setup:\n"
        "    import marimo as mo\n"
        "    import math\n"
        "@app.function\n"
        "def root(x):\n"
        "    return math.sqrt(x)\n"
    )
    tests = "from submission import root\n\ndef test_root():\n    assert root(9) == 3\n"
    doc = grade(work, nb, pytest_files=[("tests/test_r.py", tests)])
    assert doc["load"]["ok"], doc["load"]
    assert "import marimo" not in doc["submission"]
    assert [t["status"] for t in doc["pytest"][0]["tests"]] == ["passed"], doc
