"""The autograder's test kinds end to end on a real stack: io, stdio with each
comparator, pytest (points markers, node ids of classes and parametrized
tests, errors, skips), score rounding, marimo notebooks (the examples of
cp1-functions, and a notebook with a setup cell, @app.function,
@app.class_definition and UI cells), submissions that do not load, and
hostile submissions (endless loops, memory and output floods, exits, and
cheats: lying __eq__, patched print, fake reports on every descriptor,
reading the hidden tests from disk).

Every submission of the module is made at once by one fixture, so that the
executors grade them in parallel; each test then waits for its own with a
deadline. Assignments use limits.time_s = 2.
"""

import json
import re
import time
from pathlib import Path

import pytest

from client import Api
from grading import put, put_ok, submit, submit_ok, wait_graded  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CP1_SUBS = EXAMPLES / "submissions" / "cp1-functions"

OVERRIDES = {
    "case_timeout_s": 2,
    "output_max_bytes": 1024 * 1024,
}


# ------------------------------------------------------------------ helpers

def io_test(name, entry_point, inp, out, points=1, visibility="public"):
    return {"kind": "io", "name": name, "entry_point": entry_point, "input": inp,
            "output": out, "points": points, "visibility": visibility}


def stdio_test(name, stdin, stdout, points=1, visibility="public", **kw):
    t = {"kind": "stdio", "name": name, "stdin": stdin, "stdout": stdout, "points": points,
         "visibility": visibility}
    t.update(kw)
    return t


def wait_one(api, sid, timeout):
    deadline = time.monotonic() + timeout
    while True:
        r = api.get("/results/" + sid)
        assert r.status_code == 200, r.text
        body = r.json()
        if body["status"] in ("done", "error"):
            return body
        assert body["status"] in ("queued", "grading"), body
        assert time.monotonic() < deadline, (
            "submission %s still %s after %d s" % (sid, body["status"], timeout))
        time.sleep(0.25)


def rows(result):
    return {t["name"]: t for t in result["tests"]}


def describe(result):
    """A short account of a result for assertion messages."""
    return json.dumps({k: result.get(k) for k in ("status", "score", "max_points", "feedback",
                                                   "error")}
                      | {"tests": [(t["name"], t["status"], t["points"],
                                    (t.get("message") or "")[:300]) for t in result["tests"]]},
                      indent=1)


def line_of(text, needle):
    """1-based number of the first line of text containing needle."""
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError("%r not in the text" % needle)


# ------------------------------------------------------------ assignments

# io: keyword and literal inputs, 3 == 3.0, (1, 1) != [1, 1], an exception.
K_IO = {
    "title": "io", "max_points": 5, "limits": {"time_s": 2}, "hidden_feedback": "full",
    "tests": [
        io_test("keywords", "add", "a=1, b=2", "3"),
        io_test("one literal", "total", "[1, 2, 3]", "6"),
        io_test("float equals int", "half", "4", "2"),
        io_test("tuple is not a list", "pair", "1", "[1, 1]"),
        io_test("raises", "add", "a=1, b='x'", "0"),
    ],
}
K_IO_SUB = """\
def add(a, b):
    return a + b


def total(xs):
    return sum(xs)


def half(x):
    return x / 2


def pair(x):
    return (x, x)
"""

# stdio: one program, which prints what each test's stdin asks for.
K_STDIO = {
    "title": "stdio comparators", "max_points": 15, "limits": {"time_s": 2},
    "hidden_feedback": "full",
    "tests": [
        stdio_test("exact", "exact\n", "a b\n", 1, compare="exact"),
        stdio_test("trim", "trim\n", "10\n2.5\n", 2),                  # trim is the default
        stdio_test("tokens", "tokens\n", "1 2 3\n", 3, compare="tokens"),
        stdio_test("float", "float\n", "0.3333333\n", 4, compare="float"),  # tolerance 1e-6
        stdio_test("float tolerance", "float-tol\n", "100.0 x\n", 5, compare="float",
                   tolerance=0.01),                                  # 0.01 x 100 = 1
    ],
}
K_STDIO_PASS = """\
import sys

mode = sys.stdin.read().strip()
sys.stderr.write("standard error is never compared\\n")
if mode == "exact":
    sys.stdout.write("a b\\n")
elif mode == "trim":
    sys.stdout.write("10  \\t\\n2.5\\r\\n\\n\\n")
elif mode == "tokens":
    sys.stdout.write("1\\n  2\\t3")
elif mode == "float":
    print(1 / 3)
elif mode == "float-tol":
    print("100.9 x")
"""
# Each output is one that the next more lenient comparator would accept.
K_STDIO_FAIL = """\
import sys

mode = sys.stdin.read().strip()
if mode == "exact":
    sys.stdout.write("a b")
elif mode == "trim":
    sys.stdout.write(" 10\\n2.5\\n")
elif mode == "tokens":
    sys.stdout.write("1 2 3 4\\n")
elif mode == "float":
    print(0.3334)
elif mode == "float-tol":
    print("101.5 x")
"""

K_PY_TESTS = """\
import pytest

from submission import Box, sq


@pytest.mark.points(3)
def test_sq_three():
    assert sq(3) == 9


def test_sq_zero():
    assert sq(0) == 0


@pytest.mark.parametrize("x,y", [(2, 4), (5, 25)])
def test_param(x, y):
    assert sq(x) == y


class TestBox:
    @pytest.mark.points(2)
    def test_get(self):
        assert Box(4).get() == 4

    def test_double(self):
        assert Box(4).double() == 8


@pytest.fixture
def broken():
    raise RuntimeError("the fixture broke")


def test_broken_fixture(broken):
    assert True


def test_skipped():
    pytest.skip("not today")


@pytest.mark.xfail
def test_xfail():
    assert False
"""
K_PY = {
    "title": "pytest", "max_points": 12, "limits": {"time_s": 2}, "hidden_feedback": "full",
    "tests": [{"kind": "pytest", "file": "tests/test_k.py", "visibility": "public"}],
}
K_PY_FILES = {"tests/test_k.py": K_PY_TESTS}
K_PY_SUB = """\
def sq(x):
    return x * x


class Box:
    def __init__(self, v):
        self.v = v

    def get(self):
        return self.v

    def double(self):
        return self.v * 3
"""
K_PY_NO_BOX = "def sq(x):\n    return x * x\n"
K_PY_SYNTAX = "def sq(x):\n    return x * x\n\n\ndef broken(:\n    pass\n"
K_PY_RAISES = "def sq(x):\n    return x * x\n\n\nraise RuntimeError('import-time failure')\n"


def squares(title, max_points, n):
    return {"title": title, "max_points": max_points, "limits": {"time_s": 2},
            "tests": [io_test("sq %d" % i, "sq", str(i), str(i * i)) for i in range(n)]}


def squares_up_to(k):
    return "def sq(x):\n    return x * x if x < %d else -1\n" % k


# marimo: a notebook using every part the grader keeps, and cells it drops.
NOTEBOOK = '''\
import marimo

__generated_with = "0.9.0"
app = marimo.App(width="medium")

with app.setup:
    import math
    SCALE = 3


@app.cell
def _():
    import marimo as mo
    return (mo,)


@app.function
def scaled(x):
    """x times the setup cell's SCALE."""
    return x * SCALE


@app.class_definition
class Stack:
    def __init__(self):
        self.items = []

    def push(self, x):
        self.items.append(x)

    def size(self):
        return len(self.items)


@app.cell
def _(mo):
    slider = mo.ui.slider(1, 10)
    cell_only = 42
    while True:
        pass
    return cell_only, slider


@app.function
def root(x):
    return math.sqrt(x)


@app.function
def boom(x):
    raise ValueError("boom from the notebook")


if __name__ == "__main__":
    app.run()
'''
NB_TESTS = """\
import submission
from submission import SCALE, Stack, boom, root, scaled


def test_setup_cell():
    assert SCALE == 3
    assert submission.math.sqrt(16) == 4


def test_app_function():
    assert scaled(2) == 6


def test_app_class_definition():
    s = Stack()
    s.push(1)
    s.push(2)
    assert s.size() == 2


def test_function_uses_setup_import():
    assert root(9) == 3


def test_cells_are_left_out():
    for name in ("cell_only", "slider", "mo"):
        assert not hasattr(submission, name), name


def test_marimo_scaffolding_is_left_out():
    assert not hasattr(submission, "app")
    assert not hasattr(submission, "__generated_with")
"""
NB = {
    "title": "A notebook", "max_points": 8, "limits": {"time_s": 2}, "hidden_feedback": "full",
    "tests": [
        {"kind": "pytest", "file": "tests/test_nb.py", "visibility": "public"},
        io_test("scaled through io", "scaled", "5", "15"),
        io_test("boom", "boom", "1", "None"),
    ],
}
NB_FILES = {"tests/test_nb.py": NB_TESTS}
NB_BAD_SETUP = NOTEBOOK.replace("    SCALE = 3\n", "    SCALE = 3\n    1 / 0\n")
NB_SYNTAX = NOTEBOOK.replace("def root(x):", "def root(x)")

# hostile submissions
H_PY_TESTS = """\
from submission import f, g


def test_f():
    assert f(2) == 4


def test_g():
    assert g(3) == 6


def test_g2():
    assert g(5) == 10
"""
H_PY = {"title": "hostile pytest", "max_points": 3, "hidden_feedback": "full",
        "limits": {"time_s": 2, "memory_mb": 128},
        "tests": [{"kind": "pytest", "file": "tests/test_h.py", "visibility": "public"}]}
H_PY_FILES = {"tests/test_h.py": H_PY_TESTS}
H_GOOD = "def f(x):\n    return x * x\n\n\ndef g(x):\n    return 2 * x\n"
H_NODE = "tests/test_h.py::"

SECRET = "CANARY-9d2f-7a31"
H_SECRET = {"title": "hidden answer", "max_points": 1, "hidden_feedback": "full",
            "limits": {"time_s": 2, "memory_mb": 128},
            "tests": [{"kind": "pytest", "file": "tests/hidden/test_secret.py",
                       "visibility": "hidden"}]}
H_SECRET_FILES = {"tests/hidden/test_secret.py": (
    "from submission import answer\n\n\n"
    "def test_secret():\n"
    "    assert answer() == \"%s\"\n" % SECRET)}

H_IO = {"title": "hostile io", "max_points": 2, "limits": {"time_s": 2},
        "tests": [io_test("f 2", "f", "2", "4"), io_test("f 3", "f", "3", "9")]}
H_STDIO = {"title": "hostile stdio", "max_points": 2, "limits": {"time_s": 2},
           "hidden_feedback": "full",
           "tests": [stdio_test("sum small", "2 3\n", "5\n"),
                     stdio_test("sum large", "10 20\n", "30\n", visibility="hidden")]}
# A program as students write them: it reads its input at the top level.
H_STDIO_GOOD = "import sys\na, b = (int(t) for t in sys.stdin.read().split())\nprint(a + b)\n"
H_STDIO_GUARDED = ("import sys\n\n\ndef main():\n"
                   "    a, b = (int(t) for t in sys.stdin.read().split())\n    print(a + b)\n\n\n"
                   "if __name__ == \"__main__\":\n    main()\n")

HOSTILE_PY = {
    "loop_import": "while True:\n    pass\n\n\n" + H_GOOD,
    "loop_one": "def f(x):\n    while True:\n        pass\n\n\ndef g(x):\n    return 2 * x\n",
    "memory_import": ("blocks = []\nwhile True:\n"
                      "    blocks.append(bytearray(64 * 1024 * 1024))\n\n\n" + H_GOOD),
    "memory_one": ("def f(x):\n    blocks = []\n    while True:\n"
                   "        blocks.append(bytearray(64 * 1024 * 1024))\n\n\n"
                   "def g(x):\n    return 2 * x\n"),
    "print_100mb": ("import os\nimport sys\n\nchunk = 'x' * (1 << 20)\n"
                    "for _ in range(50):\n    sys.stdout.write(chunk)\nsys.stdout.flush()\n"
                    "for _ in range(50):\n    os.write(1, chunk.encode())\n\n\n"
                    "def f(x):\n    return x * x\n\n\ndef g(x):\n    return 0\n"),
    "os_exit_import": "import os\nos._exit(0)\n\n\n" + H_GOOD,
    "sys_exit_import": "import sys\nsys.exit(0)\n\n\n" + H_GOOD,
    "os_exit_in_test": ("import os\n\n\ndef f(x):\n    os._exit(0)\n\n\n"
                        "def g(x):\n    return 2 * x\n"),
    "system_exit_in_test": ("def f(x):\n    raise SystemExit(0)\n\n\n"
                            "def g(x):\n    return 2 * x\n"),
    "fake_reports": '''\
import json
import os

FAKE = [
    b"tests/test_h.py::test_f PASSED\\n",
    b"tests/test_h.py::test_g PASSED\\ntests/test_h.py::test_g2 PASSED\\n",
    b"ok 1 - test_f\\nok 2 - test_g\\nok 3 - test_g2\\n",
    b"===== 3 passed in 0.01s =====\\n",
    json.dumps({"load": {"ok": True}, "submission": "",
                "pytest": [{"id": 0, "tests": [
                    {"name": "tests/test_h.py::test_f", "status": "passed", "points": 1000},
                    {"name": "tests/test_h.py::test_g", "status": "passed", "points": 1000},
                    {"name": "tests/test_h.py::test_g2", "status": "passed", "points": 1000},
                    {"name": "tests/test_h.py::test_bonus", "status": "passed",
                     "points": 1000}]}],
                "stdio": []}).encode() + b"\\n",
    json.dumps({"id": 0, "tests": [{"name": "tests/test_h.py::test_f",
                                    "status": "passed"}]}).encode() + b"\\n",
    b'{"status": "done", "score": 3, "max_points": 3, "tests": []}\\n',
    b'<testcase classname="tests.test_h" name="test_f" time="0.001"/>\\n',
]


def spam():
    for fd in range(0, 21):
        for line in FAKE:
            try:
                os.write(fd, line)
            except OSError:
                pass


spam()


def f(x):
    spam()
    return 0


def g(x):
    spam()
    return 0
''',
}

READ_HIDDEN = r'''
import os
import re
import time

PATTERN = re.compile(r'answer\(\) == \\?"([^"\\]+)')
SKIP = {"/proc", "/sys", "/dev", "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin",
        "/sbin", "/boot", "/snap"}


def _read(path):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return ""
    data = b""
    try:
        while len(data) < (4 << 20):
            try:
                b = os.read(fd, 1 << 20)
            except OSError:
                break
            if not b:
                break
            data += b
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace")


def _search(deadline):
    roots, here = [], os.getcwd()
    while True:
        roots.append(here)
        if here == "/":
            break
        here = os.path.dirname(here)
    roots += [os.path.dirname(os.path.abspath(__file__)), "/tmp", "/run", "/var", "/home",
              "/root", "/work", "/srv", "/opt", "/mnt", "/dev/shm", "/etc"]
    files = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        base = "/proc/" + pid
        roots.append(base + "/cwd")
        files += [base + "/cmdline", base + "/environ"]
        try:
            files += [base + "/fd/" + n for n in os.listdir(base + "/fd")]
        except OSError:
            pass
    for path in files:
        if time.monotonic() > deadline:
            return None
        m = PATTERN.search(_read(path))
        if m:
            return m.group(1)
    seen = set()
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            if time.monotonic() > deadline:
                return None
            dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in SKIP]
            for name in filenames:
                path = os.path.join(dirpath, name)
                if path in seen:
                    continue
                seen.add(path)
                m = PATTERN.search(_read(path))
                if m:
                    return m.group(1)
    return None


def answer():
    found = _search(time.monotonic() + 1.2)
    return found if found else "nothing found"
'''

# the same lies, told only from inside the tested functions
HOSTILE_PY["fake_reports_in_test"] = HOSTILE_PY["fake_reports"].replace("\n\nspam()\n", "\n")
assert HOSTILE_PY["fake_reports_in_test"].count("spam()") == 3

HOSTILE_IO = {
    "lying_eq": '''\
class Liar:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


class LyingInt(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


def f(x):
    if x == 2:
        return Liar()
    return LyingInt(0)
''',
}

HOSTILE_STDIO = {
    "patched_print": '''\
import builtins
import io
import os
import sys

a, b = (int(t) for t in sys.stdin.read().split())
os.write(2, b"%d\\n" % (a + b))                 # the right answer, on standard error
for fd in range(3, 21):                         # fake reports on every other descriptor
    try:
        os.write(fd, b'{"id": 0, "status": "ok", "stdout_b64": "NQo="}\\n')
        os.write(fd, b'{"id": 1, "status": "ok", "stdout_b64": "MzAK"}\\n')
    except OSError:
        pass
builtins.print = lambda *args, **kw: None       # the right answer printed into nothing
print(a + b)
sys.stdout = io.StringIO()
sys.stdout.write("%d\\n" % (a + b))
os.write(1, b"%d\\n" % (a * b))                  # what really reaches standard output
''',
    "print_100mb_stdio": '''\
import os
import sys

a, b = (int(t) for t in sys.stdin.read().split())
print(a + b, flush=True)
chunk = b"x" * (1 << 20)
for _ in range(100):
    os.write(1, chunk)
''',
    "loop_stdio": "while True:\n    pass\n",
}


# --------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def st(stack_factory):
    s = stack_factory.start("grading-kinds", executors=2, api_workers=4, overrides=OVERRIDES)
    assert s.admin_token, "evalctl made no admin token: %s" % s.admin_token_error
    yield s
    stack_factory.stop(s)


@pytest.fixture(scope="module")
def admin(st):
    return Api(st.url, token=st.admin_token, redis=st.redis)


class Batch:
    """Submissions made together; result(name) waits for one of them."""

    def __init__(self, admin):
        self.admin = admin
        self.ids = {}
        self.results = {}

    def submit(self, name, slug, source):
        self.ids[name] = submit_ok(self.admin, slug, source, name.replace("_", "-")[:100])

    def result(self, name, timeout=180):
        if name not in self.results:
            self.results[name] = wait_one(self.admin, self.ids[name], timeout)
        return self.results[name]


@pytest.fixture(scope="module")
def batch(st, admin):
    r = st.evalctl("assignment", "load", str(EXAMPLES / "assignments" / "cp1-functions"))
    assert r.returncode == 0, (r.stdout, r.stderr)
    for slug, d, files in [("h-py", H_PY, H_PY_FILES), ("h-secret", H_SECRET, H_SECRET_FILES),
                           ("h-io", H_IO, None), ("h-stdio", H_STDIO, None),
                           ("k-io", K_IO, None), ("k-stdio", K_STDIO, None),
                           ("k-py", K_PY, K_PY_FILES),
                           ("k-round", squares("round", 10, 3), None),
                           ("k-half", squares("half", 5, 2), None),
                           ("k-third", squares("third", 10, 3), None),
                           ("nb", NB, NB_FILES)]:
        put_ok(admin, slug, d, files)
    b = Batch(admin)
    # the slow ones first
    for name, src in HOSTILE_PY.items():
        b.submit("h_" + name, "h-py", src)
    for name, src in HOSTILE_STDIO.items():
        b.submit("h_" + name, "h-stdio", src)
    for name, src in HOSTILE_IO.items():
        b.submit("h_" + name, "h-io", src)
    b.submit("h_read_hidden", "h-secret", READ_HIDDEN)
    b.submit("k_io", "k-io", K_IO_SUB)
    b.submit("k_io_syntax", "k-io", "def add(a, b)\n    return a + b\n")
    b.submit("k_stdio_top_level", "h-stdio", H_STDIO_GOOD)
    b.submit("k_stdio_pass", "k-stdio", K_STDIO_PASS)
    b.submit("k_stdio_fail", "k-stdio", K_STDIO_FAIL)
    b.submit("k_py", "k-py", K_PY_SUB)
    b.submit("k_py_no_box", "k-py", K_PY_NO_BOX)
    b.submit("k_py_syntax", "k-py", K_PY_SYNTAX)
    b.submit("k_py_raises", "k-py", K_PY_RAISES)
    b.submit("k_round", "k-round", squares_up_to(2))
    b.submit("k_half", "k-half", squares_up_to(1))
    b.submit("k_third", "k-third", squares_up_to(1))
    for p in sorted(CP1_SUBS.glob("*.py")):
        b.submit("cp1_" + p.stem, "cp1-functions", p.read_text())
    b.submit("cp1_starter", "cp1-functions",
             (EXAMPLES / "assignments" / "cp1-functions" / "notebook.py").read_text())
    b.submit("nb", "nb", NOTEBOOK)
    b.submit("nb_bad_setup", "nb", NB_BAD_SETUP)
    b.submit("nb_syntax", "nb", NB_SYNTAX)
    return b


# ------------------------------------------------------------- 4. kinds

def test_io_kind(batch):
    res = batch.result("k_io")
    assert res["status"] == "done", describe(res)
    got = rows(res)
    assert [t["name"] for t in res["tests"]] == [t["name"] for t in K_IO["tests"]], describe(res)
    want = {"keywords": "passed", "one literal": "passed", "float equals int": "passed",
            "tuple is not a list": "failed", "raises": "error"}
    assert {n: t["status"] for n, t in got.items()} == want, describe(res)
    assert "expected" in got["tuple is not a list"]["message"], describe(res)
    assert "TypeError" in got["raises"]["message"], describe(res)
    assert all(t["message"] == "" for t in got.values() if t["status"] == "passed"), \
        describe(res)
    assert res["score"] == 3 and res["max_points"] == 5, describe(res)


def test_io_failure_message_tells_tuple_from_list(batch):
    """A failed io test's message shows the expected and the actual value
    (grading.md); (1, 1) against [1, 1] print alike in JSON, so the message
    says that the type differs instead of reading as the same value."""
    msg = rows(batch.result("k_io"))["tuple is not a list"]["message"]
    assert msg.strip() != "expected [1,1], got [1,1]", msg
    m = re.match(r"expected (.*?), got (.*)$", msg, re.S)
    assert m, msg
    assert m.group(1) != m.group(2), msg
    assert "equal when printed: the type differs" in m.group(2), msg
    assert "tuple" in m.group(2), msg


def test_io_submission_that_does_not_load(batch):
    res = batch.result("k_io_syntax")
    assert res["status"] == "done" and res["score"] == 0, describe(res)
    assert "SyntaxError" in res["feedback"], describe(res)
    assert "line 1" in res["feedback"], describe(res)
    assert len(res["tests"]) == 5 and all(t["status"] != "passed" for t in res["tests"])


def test_io_entry_point_expression(admin):
    """grading.md: entry_point is a function's name or an expression of
    names, dots and calls without arguments, such as Solution().add;
    anything else is refused when the assignment is loaded."""
    for bad in ("os.system('ls')", "add(a=1)", "lambda x: x", "1add", ""):
        d = {"title": "bad", "max_points": 1, "limits": {"time_s": 2},
             "tests": [io_test("bad", bad, "a=1, b=2", "3")]}
        r = put(admin, "k-io-bad-ep", d)
        assert r.status_code == 422, (bad, r.text)
        assert "entry_point" in r.json()["detail"], (bad, r.text)
    assert admin.get("/assignments/k-io-bad-ep").status_code == 404
    d = {"title": "method", "max_points": 1, "limits": {"time_s": 2},
         "tests": [io_test("method", "Solution().add", "a=1, b=2", "3")]}
    r = put(admin, "k-io-expr", d)
    assert r.status_code == 201, r.text
    sid = submit_ok(admin, "k-io-expr",
                    "class Solution:\n    def add(self, a, b):\n        return a + b\n", "expr")
    res = wait_one(admin, sid, 60)
    assert res["status"] == "done" and res["score"] == 1, describe(res)


def test_stdio_comparators_pass(batch):
    res = batch.result("k_stdio_pass")
    assert res["status"] == "done", describe(res)
    assert all(t["status"] == "passed" for t in res["tests"]), describe(res)
    assert all(t["message"] == "" for t in res["tests"]), describe(res)
    assert [t["points"] for t in res["tests"]] == [1, 2, 3, 4, 5], describe(res)
    assert res["score"] == 15, describe(res)


def test_stdio_program_reading_stdin_at_the_top_level(batch):
    """grading.md: "The submission is run as a program, python3 submission.py,
    with stdin as its standard input" -- a program that reads its input at
    the top level (as examples/submissions/sum-stdin/correct.py does) is the
    normal case, and must not be judged by running it without that input."""
    res = batch.result("k_stdio_top_level")
    assert res["status"] == "done", describe(res)
    assert all(t["status"] == "passed" for t in res["tests"]), describe(res)
    assert res["score"] == 2, describe(res)


def test_stdio_comparators_fail(batch):
    res = batch.result("k_stdio_fail")
    assert res["status"] == "done", describe(res)
    got = rows(res)
    assert set(got) == {"exact", "trim", "tokens", "float", "float tolerance"}
    for name, t in got.items():
        assert t["status"] == "failed" and t["points"] == 0, describe(res)
        assert "expected" in t["message"], describe(res)
    assert res["score"] == 0, describe(res)


def test_pytest_kind(batch):
    res = batch.result("k_py")
    assert res["status"] == "done", describe(res)
    f = "tests/test_k.py::"
    want = {
        f + "test_sq_three": ("passed", 3, 3),
        f + "test_sq_zero": ("passed", 1, 1),
        f + "test_param[2-4]": ("passed", 1, 1),
        f + "test_param[5-25]": ("passed", 1, 1),
        f + "TestBox::test_get": ("passed", 2, 2),
        f + "TestBox::test_double": ("failed", 0, 1),
        f + "test_broken_fixture": ("error", 0, 1),
        f + "test_skipped": ("failed", 0, 1),
        f + "test_xfail": ("failed", 0, 1),
    }
    got = {t["name"]: (t["status"], t["points"], t["max_points"]) for t in res["tests"]}
    assert got == want, describe(res)
    assert all(t["visibility"] == "public" for t in res["tests"])
    assert all(t["message"] == "" for t in res["tests"] if t["status"] == "passed"), \
        describe(res)
    assert "12" in rows(res)[f + "TestBox::test_double"]["message"], describe(res)
    assert "fixture broke" in rows(res)[f + "test_broken_fixture"]["message"], describe(res)
    assert res["score"] == 8 and res["max_points"] == 12, describe(res)


def test_pytest_file_cannot_import_a_missing_name(batch):
    res = batch.result("k_py_no_box")
    assert res["status"] == "done" and res["score"] == 0, describe(res)
    assert res["tests"] and all(t["status"] != "passed" for t in res["tests"]), describe(res)
    said = res["feedback"] + " ".join(t["message"] or "" for t in res["tests"])
    assert "Box" in said, describe(res)


def test_pytest_submission_with_syntax_error(batch):
    res = batch.result("k_py_syntax")
    assert res["status"] == "done" and res["score"] == 0, describe(res)
    assert "SyntaxError" in res["feedback"] and "line 5" in res["feedback"], describe(res)


def test_pytest_submission_raising_at_import(batch):
    res = batch.result("k_py_raises")
    assert res["status"] == "done" and res["score"] == 0, describe(res)
    assert "RuntimeError" in res["feedback"], describe(res)
    assert "import-time failure" in res["feedback"], describe(res)


@pytest.mark.parametrize("name,score,max_points", [
    ("k_round", 7, 10),     # 10 x 2/3 = 6.67
    ("k_half", 3, 5),       # 5 x 1/2 = 2.5: a half rounds up
    ("k_third", 3, 10),     # 10 x 1/3 = 3.33
])
def test_score_rounding(batch, name, score, max_points):
    res = batch.result(name)
    assert res["status"] == "done", describe(res)
    assert res["score"] == score and res["max_points"] == max_points, describe(res)


# ------------------------------------------------------------ 5. marimo

@pytest.mark.parametrize("name,score", [("cp1_correct", 10), ("cp1_partial", 4),
                                        ("cp1_plain", 10), ("cp1_syntax_error", 0),
                                        ("cp1_starter", 0)])
def test_cp1_example_submissions(batch, name, score):
    res = batch.result(name)
    assert res["status"] == "done", describe(res)
    assert res["score"] == score and res["max_points"] == 10, describe(res)
    assert len(res["tests"]) == 7, describe(res)
    assert sum(t["max_points"] for t in res["tests"]) == 10


def test_cp1_partial_rows(batch):
    res = batch.result("cp1_partial")
    passed = sorted(t["name"] for t in res["tests"] if t["status"] == "passed")
    assert passed == ["tests/hidden/test_edges.py::test_is_prime_large_and_squares",
                      "tests/test_public.py::test_counter_most_common",
                      "tests/test_public.py::test_is_prime_small",
                      "tests/test_public.py::test_mean_simple"], describe(res)
    zero = rows(res)["tests/hidden/test_edges.py::test_is_prime_zero_and_negatives"]
    assert zero["max_points"] == 3 and zero["points"] == 0 and zero["status"] == "failed"


def test_cp1_syntax_error_names_the_notebook_line(batch):
    res = batch.result("cp1_syntax_error")
    text = (CP1_SUBS / "syntax_error.py").read_text()
    line = line_of(text, "def mean(xs)")
    assert "SyntaxError" in res["feedback"], describe(res)
    assert "line %d" % line in res["feedback"], describe(res)


def test_cp1_student_view_is_a_summary(admin, batch, st):
    sid = batch.ids["cp1_partial"]
    student = Api(st.url, token=admin.post("/tokens", {
        "role": "student", "student_id": "cp1-partial"}).json()["token"])
    res = student.get("/results/" + sid).json()
    assert res["score"] == 4, res
    assert [t["visibility"] for t in res["tests"]] == ["public"] * 3, res
    assert res["hidden"] == {"count": 4, "passed": 1, "points": 1, "max_points": 7}, res
    assert "test_edges" not in json.dumps(res), res
    view = student.get("/assignments/cp1-functions").json()
    assert view["hidden"] == {"count": 4, "points": 7}, view["hidden"]
    assert "test_mean_empty_raises" not in json.dumps(view)


def test_notebook_parts(batch):
    res = batch.result("nb")
    assert res["status"] == "done", describe(res)
    got = rows(res)
    for name in ("test_setup_cell", "test_app_function", "test_app_class_definition",
                 "test_function_uses_setup_import", "test_cells_are_left_out",
                 "test_marimo_scaffolding_is_left_out"):
        t = got["tests/test_nb.py::" + name]
        assert t["status"] == "passed", describe(res)
    assert got["scaled through io"]["status"] == "passed", describe(res)
    assert got["boom"]["status"] == "error", describe(res)
    assert res["score"] == 7, describe(res)


def test_notebook_error_lines_are_the_notebooks(batch):
    res = batch.result("nb")
    msg = rows(res)["boom"]["message"]
    line = line_of(NOTEBOOK, 'raise ValueError("boom from the notebook")')
    assert "ValueError" in msg and "boom from the notebook" in msg, describe(res)
    assert "line %d" % line in msg, describe(res)


def test_notebook_syntax_error_line(batch):
    res = batch.result("nb_syntax")
    assert res["status"] == "done" and res["score"] == 0, describe(res)
    line = line_of(NB_SYNTAX, "def root(x)")
    assert "SyntaxError" in res["feedback"] and "line %d" % line in res["feedback"], \
        describe(res)


def test_notebook_setup_cell_that_raises(batch):
    res = batch.result("nb_bad_setup")
    assert res["status"] == "done" and res["score"] == 0, describe(res)
    assert "ZeroDivisionError" in res["feedback"], describe(res)
    line = line_of(NB_BAD_SETUP, "1 / 0")
    for m in re.finditer(r"line (\d+)", res["feedback"]):
        assert int(m.group(1)) == line, describe(res)


def test_evalctl_grade_offline_notebooks(st):
    files = sorted(str(p) for p in CP1_SUBS.glob("*.py"))
    r = st.evalctl("grade", "--json", str(EXAMPLES / "assignments" / "cp1-functions"), *files,
                   timeout=240)
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-2000:])
    out = json.loads(r.stdout)
    assert len(out) == len(files) and [x["file"] for x in out] == files, out
    scores = {Path(x["file"]).name: (x["status"], x["score"]) for x in out}
    assert scores == {"correct.py": ("done", 10), "partial.py": ("done", 4),
                      "plain.py": ("done", 10), "syntax_error.py": ("done", 0)}, scores


# -------------------------------------------------- 8. hostile submissions

def _hostile(batch, name):
    res = batch.result(name)
    assert res["status"] == "done", describe(res)
    return res, rows(res)


@pytest.mark.parametrize("name", ["h_loop_import", "h_memory_import", "h_os_exit_import",
                                  "h_sys_exit_import"])
def test_hostile_at_import_scores_zero(batch, name):
    res, got = _hostile(batch, name)
    assert res["score"] == 0, describe(res)
    assert all(t["status"] != "passed" for t in res["tests"]), describe(res)
    assert res["feedback"], describe(res)


@pytest.mark.parametrize("name", ["h_loop_one", "h_memory_one", "h_os_exit_in_test",
                                  "h_system_exit_in_test"])
def test_hostile_inside_one_test_costs_only_that_test(batch, name):
    res, got = _hostile(batch, name)
    assert set(got) == {H_NODE + "test_f", H_NODE + "test_g", H_NODE + "test_g2"}, \
        describe(res)
    assert got[H_NODE + "test_f"]["status"] != "passed", describe(res)
    if name == "h_loop_one":
        assert got[H_NODE + "test_f"]["status"] == "timeout", describe(res)
    assert got[H_NODE + "test_g"]["status"] == "passed", describe(res)
    assert got[H_NODE + "test_g2"]["status"] == "passed", describe(res)
    assert res["score"] == 2, describe(res)


def test_hostile_printing_100mb_in_pytest(batch):
    res, got = _hostile(batch, "h_print_100mb")
    assert got[H_NODE + "test_g"]["status"] != "passed", describe(res)
    assert got[H_NODE + "test_g2"]["status"] != "passed", describe(res)
    assert res["score"] <= 1, describe(res)


@pytest.mark.parametrize("name", ["h_fake_reports", "h_fake_reports_in_test"])
def test_hostile_fake_reports_on_every_descriptor(batch, name):
    res, got = _hostile(batch, name)
    assert set(got) == {H_NODE + "test_f", H_NODE + "test_g", H_NODE + "test_g2"}, \
        describe(res)
    assert all(t["status"] != "passed" and t["points"] == 0 and t["max_points"] == 1
               for t in res["tests"]), describe(res)
    assert res["score"] == 0, describe(res)


def test_hostile_reading_the_hidden_test_file(batch):
    res, got = _hostile(batch, "h_read_hidden")
    t = got["tests/hidden/test_secret.py::test_secret"]
    assert t["status"] != "passed", describe(res)
    assert res["score"] == 0, describe(res)


def test_hostile_lying_eq_for_io(batch):
    res, got = _hostile(batch, "h_lying_eq")
    assert all(t["status"] != "passed" for t in res["tests"]), describe(res)
    assert res["score"] == 0, describe(res)


@pytest.mark.parametrize("name", ["h_patched_print", "h_print_100mb_stdio", "h_loop_stdio"])
def test_hostile_stdio(batch, name):
    res = batch.result(name)
    assert res["status"] == "done", describe(res)
    assert all(t["status"] != "passed" for t in res["tests"]), describe(res)
    if name == "h_loop_stdio":
        assert all(t["status"] == "timeout" for t in res["tests"]), describe(res)
    assert res["score"] == 0, describe(res)


def test_service_healthy_after_hostile_submissions(st, admin, batch):
    for name in batch.ids:
        if name.startswith("h_"):
            res = batch.result(name)
            assert res["status"] in ("done", "error"), describe(res)
    r = admin.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    assert r.json()["executors"] == 2, r.text
    assert st.alive() == [], st.alive()
    good = {"h-py": (H_GOOD, 3), "h-io": ("def f(x):\n    return x * x\n", 2),
            "h-stdio": (H_STDIO_GUARDED, 2)}
    ids = {slug: submit_ok(admin, slug, src, "after-hostile") for slug, (src, _) in good.items()}
    for slug, sid in ids.items():
        res = wait_one(admin, sid, 60)
        assert res["status"] == "done" and res["score"] == good[slug][1], describe(res)
    # nothing is left queued or half-graded
    rows_ = admin.get("/submissions", params={"limit": 1000}).json()
    assert all(s["status"] in ("done", "error") for s in rows_), \
        [s for s in rows_ if s["status"] not in ("done", "error")]
