"""Tests of the /evaluate_code harness (src/executor/harness/evaluate.py).

Each test runs the harness the way the executor does, minus the sandbox:
`/usr/bin/python3 -I -S evaluate.py`, the request on stdin, a pipe on fd 3
for the answer, a nearly empty environment, a scratch work directory as cwd.
Run with `/usr/bin/python3 -m pytest tests/harness -q`.
"""

import json
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from samples import FORGED_REPORT_AT_IMPORT  # noqa: E402

HARNESS = Path(__file__).resolve().parents[2] / "src" / "executor" / "harness" / "evaluate.py"
PYTHON = "/usr/bin/python3"


def run_raw(stdin_bytes, cwd, timeout=60, pid_out=None):
    """Run the harness; returns (fd3_bytes, stdout, stderr, exit_status).
    The harness's pid is appended to pid_out when given."""
    r, w = os.pipe()
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(cwd), "LANG": "C.UTF-8"}
    proc = subprocess.Popen(
        [PYTHON, "-I", "-S", str(HARNESS)], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(cwd), env=env,
        close_fds=False, preexec_fn=lambda: os.dup2(w, 3))
    os.close(w)
    if pid_out is not None:
        pid_out.append(proc.pid)
    chunks = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: os.read(r, 65536), b"")))
    reader.start()
    try:
        out, err = proc.communicate(stdin_bytes, timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout)
        os.close(r)
    return b"".join(chunks), out, err, proc.returncode


def evaluate(tmp_path, code, entry_point, io_cases, timeout_s=5.0, memory_mb=256, wall=60):
    req = {"code": code, "entry_point": entry_point, "io_cases": io_cases,
           "case_timeout_s": timeout_s, "case_memory_mb": memory_mb}
    fd3, out, err, status = run_raw(json.dumps(req).encode(), tmp_path, wall)
    assert status == 0, (status, err.decode(errors="replace"))
    doc = json.loads(fd3.decode("utf-8"))
    assert set(doc) == {"passed", "error", "case_results"}, doc
    assert len(doc["case_results"]) == len(io_cases), doc
    for i, c in enumerate(doc["case_results"]):
        assert set(c) == {"case", "input", "passed", "got", "expected", "error"}, c
        assert c["case"] == i
        assert isinstance(c["passed"], bool)
        assert c["error"] is None or isinstance(c["error"], str)
    assert doc["passed"] == (doc["error"] is None and all(c["passed"] for c in doc["case_results"]))
    return doc


def one(tmp_path, code, entry_point, inp, out, **kw):
    return evaluate(tmp_path, code, entry_point, [{"input": inp, "output": out}], **kw)["case_results"][0]


IDENT = "def f(*args):\n    return args\n"
ECHO = "def f(x):\n    return x\n"
ADD = "def add(a, b):\n    return a + b\n"


# ------------------------------------------------------------------- input

def test_keyword_input(tmp_path):
    doc = evaluate(tmp_path, ADD, "add", [{"input": "a=1, b=2", "output": "3"},
                                          {"input": "b = 5 ,a= 7", "output": "12"}])
    assert doc["passed"] is True and doc["error"] is None
    c = doc["case_results"]
    assert c[0] == {"case": 0, "input": "a=1, b=2", "passed": True, "got": 3, "expected": 3,
                    "error": None}
    assert c[1]["got"] == 12


@pytest.mark.parametrize("inp,out", [
    ("[1, 2]", "([1, 2],)"),        # one list argument
    ("1, 2", "((1, 2),)"),          # one tuple argument
    ("", "()"),                     # no argument
    ("not a literal", "()"),        # no argument either
    ("'x'", "('x',)"),
    ("None", "(None,)"),
    ("-5", "(-5,)"),
    ("{'a': 1}", "({'a': 1},)"),
    ("set()", "(set(),)"),
])
def test_positional_input(tmp_path, inp, out):
    c = one(tmp_path, IDENT, "f", inp, out)
    assert c["passed"] is True, c
    assert c["error"] is None


def test_string_values_with_commas_and_equals(tmp_path):
    code = "def f(s, n):\n    return [s] * n\n"
    c = one(tmp_path, code, "f", 's="a=1, b", n=2', "['a=1, b', 'a=1, b']")
    assert c["passed"] is True, c


def test_value_runs_into_next_name(tmp_path):
    # s's value stops at ', y=': '"x' is no literal and is dropped
    c = one(tmp_path, "def f(s, t):\n    return s\n", "f", 's="x, y=1", t="z"', "'x'")
    assert c["passed"] is False
    assert c["error"].startswith("KeyError: 's'\n"), c


def test_quoted_equals_is_keyword_form(tmp_path):
    c = one(tmp_path, ECHO, "f", '"a=1, b=2"', '"a=1, b=2"')
    assert c["error"].startswith("KeyError: 'x'"), c


def test_unparsable_value_dropped(tmp_path):
    c = one(tmp_path, ECHO, "f", "x=2**3", "8")
    assert c["passed"] is False
    assert c["error"].startswith("TypeError: f() missing 1 required positional argument: 'x'"), c


def test_missing_keyword_is_keyerror_even_with_default(tmp_path):
    c = one(tmp_path, "def f(a, b=2):\n    return a + b\n", "f", "a=1", "3")
    assert c["passed"] is False
    assert c["error"] == "KeyError: 'b'\n", c


def test_extra_names_ignored_and_keyword_only_never_passed(tmp_path):
    code = "def f(a, *rest, k=10, **kw):\n    return a + k\n"
    c = one(tmp_path, code, "f", "z=100, a=1, k=5, rest=3", "11")
    assert c["passed"] is True, c


def test_positional_only_parameters(tmp_path):
    c = one(tmp_path, "def f(a, /, b):\n    return a - b\n", "f", "b=1, a=5", "4")
    assert c["passed"] is True, c


def test_self_skipped(tmp_path):
    code = ("class Solution:\n"
            "    def twoSum(self, nums, target):\n"
            "        seen = {}\n"
            "        for i, x in enumerate(nums):\n"
            "            if target - x in seen:\n"
            "                return [seen[target - x], i]\n"
            "            seen[x] = i\n")
    cases = [{"input": "nums=[2, 7, 11, 15], target=9", "output": "[0, 1]"},
             {"input": "target=6, nums=[3, 2, 4]", "output": "[1, 2]"}]
    assert evaluate(tmp_path, code, "Solution().twoSum", cases)["passed"] is True
    # an unbound function's leading self is skipped too
    code2 = "class S:\n    def m(self, a):\n        return (self, a)\n"
    c = one(tmp_path, code2, "S.m", "a=1, self=2", "(2, 1)")
    assert c["error"] == "TypeError: S.m() missing 1 required positional argument: 'a'\n" \
        or c["error"].startswith("TypeError"), c


def test_decorated_function_uses_signature(tmp_path):
    code = ("import functools\n"
            "def deco(fn):\n"
            "    @functools.wraps(fn)\n"
            "    def inner(*a, **k):\n"
            "        return fn(*a, **k)\n"
            "    return inner\n"
            "@deco\n"
            "def f(x, y):\n    return x * y\n"
            "@functools.lru_cache(None)\n"
            "def g(n):\n    return n if n < 2 else g(n - 1) + g(n - 2)\n")
    assert one(tmp_path, code, "f", "y=3, x=4", "12")["passed"] is True
    assert one(tmp_path, code, "g", "n=50", "12586269025")["passed"] is True


def test_builtin_and_class_entry_points(tmp_path):
    assert one(tmp_path, "", "len", "[1, 2, 3]", "3")["passed"] is True
    code = "class P:\n    def __init__(self, a, b):\n        self.s = a + b\n    def __eq__(self, o):\n        return True\n"
    c = one(tmp_path, code, "lambda a, b: P(a, b).s", "a=2, b=3", "5")
    assert c["passed"] is True, c


# ------------------------------------------------------------------ output

def test_output_expression_in_code_globals(tmp_path):
    doc = evaluate(tmp_path, ADD, "add", [{"input": "a=1, b=2", "output": "add(1, 2)"},
                                          {"input": "a=1, b=2", "output": "add(2, 2)"}])
    c = doc["case_results"]
    assert c[0]["passed"] is True and c[0]["expected"] == 3 and c[0]["got"] == 3
    assert c[1]["passed"] is False and c[1]["expected"] == 4 and c[1]["error"] is None


def test_output_name_error(tmp_path):
    c = one(tmp_path, ECHO, "f", "'hello'", "hello")
    assert c["passed"] is False
    assert c["error"].startswith("NameError: name 'hello' is not defined\n"), c
    assert c["expected"] == "hello"
    assert c["got"] is None


@pytest.mark.parametrize("out", ["true", "null", "false"])
def test_json_constants_are_name_errors(tmp_path, out):
    c = one(tmp_path, ECHO, "f", "True", out)
    assert c["error"].startswith("NameError: name '%s' is not defined" % out), c
    assert c["expected"] == out


@pytest.mark.parametrize("inp,out,passed", [
    ("3", "3.0", True),
    ("True", "1", True),
    ("(1, 2)", "[1, 2]", False),
    ("[1, 2]", "(1, 2)", False),
    ("0.30000000000000004", "0.3", False),
    ("{1, 2}", "{2, 1}", True),
    ("{'a': (1,)}", "{'a': (1,)}", True),
    ("1+2j", "(1+2j)", True),
    ("b'x'", "b'x'", True),
    ("b'x'", "'x'", False),
    ("...", "...", True),
    ("-0.0", "0", True),
])
def test_python_equality(tmp_path, inp, out, passed):
    c = one(tmp_path, ECHO, "f", inp, out)
    assert c["passed"] is passed, c
    assert c["error"] is None


def test_float_sum_is_not_point_three(tmp_path):
    c = one(tmp_path, "def f():\n    return 0.1 + 0.2\n", "f", "", "0.3")
    assert c["passed"] is False and c["got"] == 0.30000000000000004 and c["expected"] == 0.3


def test_nan_is_not_equal_to_itself(tmp_path):
    c = one(tmp_path, "def f():\n    return float('nan')\n", "f", "", "float('nan')")
    assert c["passed"] is False and c["got"] == "nan" and c["expected"] == "nan", c


def test_got_and_expected_display(tmp_path):
    cases = [
        {"input": "{1, 2}", "output": "{1, 2}"},                 # set: repr
        {"input": "(1, [2, 'x'])", "output": "(1, [2, 'x'])"},   # tuple: JSON list
        {"input": str(2 ** 100), "output": "2 ** 100"},          # big int: exact JSON number
        {"input": "{1: 'a'}", "output": "{1: 'a'}"},             # int keys: repr
        {"input": "1e999", "output": "1e999"},                   # inf: repr
        {"input": "{'k': None}", "output": "{'k': None}"},
    ]
    c = evaluate(tmp_path, ECHO, "f", cases)["case_results"]
    assert all(x["passed"] for x in c), c
    assert c[0]["got"] == "{1, 2}" and c[0]["expected"] == "{1, 2}"
    assert c[1]["got"] == [1, [2, "x"]]
    assert c[2]["got"] == 2 ** 100 and c[2]["expected"] == 2 ** 100
    assert c[3]["got"] == "{1: 'a'}"
    assert c[4]["got"] == "inf"
    assert c[5]["got"] == {"k": None}


def test_big_int_exact(tmp_path):
    c = one(tmp_path, "def f():\n    return 2 ** 100 + 1\n", "f", "", str(2 ** 100 + 1))
    assert c["passed"] is True


# ------------------------------------------------------------------ errors

def test_exception_with_traceback(tmp_path):
    code = "def f(x):\n    if x == 2:\n        raise ValueError('boom ünï')\n    return x\n"
    doc = evaluate(tmp_path, code, "f", [{"input": str(i), "output": str(i)} for i in (1, 2, 3)])
    c = doc["case_results"]
    assert [x["passed"] for x in c] == [True, False, True]
    err = c[1]["error"]
    assert err.startswith("ValueError: boom ünï\nTraceback (most recent call last):\n"), err
    assert 'File "solution.py", line 3, in f' in err, err
    assert "raise ValueError('boom ünï')" in err, err       # the source line is shown
    assert "evaluate.py" not in err, err                     # harness frames trimmed
    assert err.endswith("ValueError: boom ünï\n")
    assert doc["passed"] is False and doc["error"] is None


def test_syntax_error_fails_every_case(tmp_path):
    doc = evaluate(tmp_path, "def f(:\n    return 1\n", "f",
                   [{"input": "1", "output": "1"}, {"input": "2", "output": "2"}])
    assert doc["passed"] is False
    assert doc["error"].startswith("SyntaxError: "), doc
    assert 'File "solution.py", line 1' in doc["error"]
    assert all(c["passed"] is False and c["error"] == doc["error"] for c in doc["case_results"])
    assert [c["expected"] for c in doc["case_results"]] == [1, 2]


def test_module_body_error_fails_every_case(tmp_path):
    code = "x = 1\nraise RuntimeError('at import')\ndef f(x):\n    return x\n"
    doc = evaluate(tmp_path, code, "f", [{"input": "1", "output": "1"}, {"input": "2", "output": "2"}])
    assert doc["passed"] is False
    assert doc["error"].startswith("RuntimeError: at import\n"), doc
    assert 'File "solution.py", line 2, in <module>' in doc["error"]
    assert all(c["error"] == doc["error"] and not c["passed"] for c in doc["case_results"])


def test_module_body_loop_fails_every_case_once(tmp_path):
    doc = evaluate(tmp_path, "while True:\n    pass\n", "f",
                   [{"input": "1", "output": "1"}] * 3, timeout_s=1)
    assert doc["error"] == "Timeout"
    assert [c["error"] for c in doc["case_results"]] == ["Timeout"] * 3


def test_case_sent_ahead_does_not_run_after_the_module_failed(tmp_path):
    """The second case's spec goes while the first case runs; the first
    run of this module raises, a later one would sleep for two minutes
    (holding the harness's stdout open). The runner must run no case after
    the one whose module failed."""
    code = ("import os\n"
            "if os.path.exists('ran'):\n"
            "    import time\n"
            "    time.sleep(120)\n"
            "open('ran', 'w').close()\n"
            "raise RuntimeError('the first run')\n")
    doc = evaluate(tmp_path, code, "f", [{"input": "1", "output": "1"}] * 3, timeout_s=60, wall=30)
    assert doc["error"].startswith("RuntimeError: the first run"), doc
    assert all(c["error"] == doc["error"] for c in doc["case_results"])


def test_a_report_forged_by_the_module_fails_every_case(tmp_path):
    """A report that comes before the module ran (its marker) is the
    module's own doing unless it says the module failed: every case fails,
    as for a module that fails, and no case is left waiting for a runner
    that stopped after it."""
    doc = evaluate(tmp_path, FORGED_REPORT_AT_IMPORT, "f", [{"input": "1", "output": "1"}] * 3)
    assert doc["error"] == "internal: malformed case result", doc
    assert all(c["error"] == doc["error"] and not c["passed"] for c in doc["case_results"])


def test_no_cases(tmp_path):
    doc = evaluate(tmp_path, ADD, "add", [])
    assert doc == {"passed": True, "error": None, "case_results": []}
    doc = evaluate(tmp_path, "1/0\n", "add", [])
    assert doc["passed"] is False and doc["error"].startswith("ZeroDivisionError")


def test_unknown_entry_point(tmp_path):
    c = one(tmp_path, ADD, "nope", "1", "1")
    assert c["error"].startswith("NameError: name 'nope' is not defined\n"), c


def test_missing_and_mistyped_case_keys(tmp_path):
    doc = evaluate(tmp_path, ECHO, "f", [
        {"input": "1"},
        {"output": "1"},
        {"input": 1, "output": "1"},
        {"input": "1", "output": 1},
        {"input": "1", "output": "1"},
        {"input": None, "output": "1"},
        {"input": "1", "output": None},
    ])
    c = doc["case_results"]
    assert c[0]["error"] == "KeyError: 'output'\n" and c[0]["expected"] is None
    assert c[0]["input"] == "1"
    assert c[1]["error"] == "KeyError: 'input'\n" and c[1]["input"] is None
    assert c[1]["expected"] == 1
    assert c[2]["error"] == "TypeError: expected string or bytes-like object, got 'int'\n", c[2]
    assert c[2]["input"] == 1
    assert c[3]["error"].startswith("TypeError: eval() arg 1 must be a string"), c[3]
    assert c[3]["expected"] == 1
    assert c[4]["passed"] is True
    assert c[5]["error"] == "TypeError: expected string or bytes-like object, got 'NoneType'\n"
    assert c[6]["error"].startswith("TypeError: eval() arg 1 must be a string"), c[6]
    assert [x["passed"] for x in c] == [False, False, False, False, True, False, False]


def test_case_that_is_not_an_object(tmp_path):
    doc = evaluate(tmp_path, ECHO, "f", ["x", 3, None, [1], {"input": "1", "output": "1"}])
    c = doc["case_results"]
    assert c[0]["error"].startswith("TypeError: string indices must be integers")
    assert c[1]["error"] == "TypeError: 'int' object is not subscriptable\n"
    assert c[2]["error"] == "TypeError: 'NoneType' object is not subscriptable\n"
    assert c[3]["error"].startswith("TypeError: list indices must be integers")
    assert c[4]["passed"] is True


def test_system_exit_and_base_exceptions(tmp_path):
    code = ("import sys\n"
            "def f(x):\n"
            "    if x == 1:\n        sys.exit(4)\n"
            "    if x == 2:\n        raise KeyboardInterrupt\n"
            "    return x\n")
    c = evaluate(tmp_path, code, "f", [{"input": str(i), "output": str(i)} for i in (1, 2, 3)])["case_results"]
    assert c[0]["error"].startswith("SystemExit: 4\n")
    assert c[1]["error"].startswith("KeyboardInterrupt: \n")
    assert c[2]["passed"] is True


def test_recursion_error(tmp_path):
    c = one(tmp_path, "def f(n):\n    return f(n + 1)\n", "f", "0", "0")
    assert c["error"].startswith("RecursionError: maximum recursion depth exceeded"), c
    assert len(c["error"]) < 70000


# --------------------------------------------------------------- isolation

def test_loop_times_out_alone(tmp_path):
    code = "def f(x):\n    while x == 'spin':\n        pass\n    return x\n"
    cases = [{"input": "1", "output": "1"}, {"input": "'spin'", "output": "1"},
             {"input": "2", "output": "2"}]
    doc = evaluate(tmp_path, code, "f", cases, timeout_s=1)
    c = doc["case_results"]
    assert c[1]["error"] == "Timeout" and c[1]["got"] is None and c[1]["passed"] is False
    assert c[0]["passed"] and c[2]["passed"]
    assert doc["error"] is None and doc["passed"] is False


def test_sleep_and_ignored_signals_time_out(tmp_path):
    code = ("import signal, time\n"
            "def f(x):\n"
            "    if x == 1:\n"
            "        time.sleep(60)\n"
            "    if x == 2:\n"
            "        signal.signal(signal.SIGXCPU, signal.SIG_IGN)\n"
            "        signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "        while True:\n            pass\n"
            "    return x\n")
    cases = [{"input": str(i), "output": str(i)} for i in (1, 2, 3)]
    c = evaluate(tmp_path, code, "f", cases, timeout_s=1)["case_results"]
    assert [x["error"] for x in c] == ["Timeout", "Timeout", None]


def test_memory_exhaustion_fails_alone(tmp_path):
    code = ("def f(x):\n"
            "    if x == 1:\n"
            "        return len(bytearray(10 ** 11))\n"
            "    if x == 2:\n"
            "        keep = []\n"
            "        while True:\n"
            "            keep.append(' ' * 10 ** 6)\n"
            "    return x\n")
    cases = [{"input": str(i), "output": str(i)} for i in (1, 2, 3)]
    doc = evaluate(tmp_path, code, "f", cases, memory_mb=128, timeout_s=10)
    c = doc["case_results"]
    assert c[0]["error"].startswith("MemoryError"), c[0]
    assert c[1]["error"].startswith("MemoryError"), c[1]
    assert 'File "solution.py", line 7, in f' in c[1]["error"], c[1]
    assert c[2]["passed"] is True
    assert doc["error"] is None


def test_process_exit_and_signals_fail_alone(tmp_path):
    code = ("import os, signal\n"
            "def f(x):\n"
            "    if x == 1:\n        os._exit(3)\n"
            "    if x == 2:\n        os.kill(os.getpid(), signal.SIGKILL)\n"
            "    if x == 3:\n        os.kill(os.getpid(), signal.SIGSEGV)\n"
            "    if x == 4:\n        os._exit(0)\n"
            "    return x\n")
    cases = [{"input": str(i), "output": str(i)} for i in (1, 2, 3, 4, 5)]
    doc = evaluate(tmp_path, code, "f", cases)
    c = doc["case_results"]
    assert c[0]["error"].startswith("ProcessExit: ") and "exit status 3" in c[0]["error"], c[0]
    assert "killed by signal 9 (SIGKILL)" in c[1]["error"], c[1]
    assert "signal 11 (SIGSEGV)" in c[2]["error"], c[2]
    assert "exit status 0" in c[3]["error"], c[3]
    assert c[4]["passed"] is True
    assert doc["error"] is None


def test_master_never_runs_the_code(tmp_path):
    # The module body records the pid of every process that executes it.
    code = ("import os\n"
            "with open('pids.txt', 'a') as fh:\n"
            "    fh.write('%d\\n' % os.getpid())\n"
            "def f(x):\n    return x\n")
    cases = [{"input": str(i), "output": str(i)} for i in range(3)]
    pids = []
    fd3, out, err, status = run_raw(json.dumps({"code": code, "entry_point": "f", "io_cases": cases,
                                                "case_timeout_s": 5, "case_memory_mb": 256}).encode(),
                                    tmp_path, pid_out=pids)
    assert json.loads(fd3)["passed"] is True
    ran = [int(line) for line in (tmp_path / "pids.txt").read_text().split()]
    assert len(ran) == 3 and len(set(ran)) == 3      # a fresh execution per case
    assert pids[0] not in ran


def test_killing_the_runner_fails_the_rest_cleanly(tmp_path):
    code = ("import os, signal\n"
            "def f(x):\n"
            "    if x == 2:\n"
            "        os.kill(os.getppid(), signal.SIGKILL)\n"
            "    return x\n")
    cases = [{"input": str(i), "output": str(i)} for i in (1, 2, 3)]
    doc = evaluate(tmp_path, code, "f", cases, wall=30)
    c = doc["case_results"]
    assert c[0]["passed"] is True
    assert c[1]["error"].startswith("internal:") and c[2]["error"].startswith("internal:"), c
    assert doc["passed"] is False and doc["error"].startswith("internal:")


def test_module_state_is_fresh_for_every_case(tmp_path):
    code = ("calls = []\n"
            "class Solution:\n"
            "    seen = 0\n"
            "def f(x):\n"
            "    calls.append(x)\n"
            "    Solution.seen += 1\n"
            "    import builtins\n"
            "    builtins.leak = getattr(builtins, 'leak', 0) + 1\n"
            "    return [len(calls), Solution.seen, builtins.leak]\n")
    cases = [{"input": str(i), "output": "[1, 1, 1]"} for i in range(3)]
    doc = evaluate(tmp_path, code, "f", cases)
    assert doc["passed"] is True, doc


def test_patched_builtins_do_not_break_reporting(tmp_path):
    code = ("import math, builtins\n"
            "def f(x):\n"
            "    if x == 0:\n"
            "        math.pi = 3\n"
            "        builtins.len = lambda o: -1\n"
            "        builtins.type = lambda *a: str\n"
            "        builtins.repr = lambda o: 'fake'\n"
            "    return [math.pi, len('ab')]\n")
    doc = evaluate(tmp_path, code, "f", [{"input": "0", "output": "[3, -1]"},
                                         {"input": "1", "output": "[3.141592653589793, 2]"}])
    assert doc["passed"] is True, doc


def test_custom_eq_never_passes_against_a_literal(tmp_path):
    code = ("class Any:\n"
            "    def __eq__(self, other):\n        return True\n"
            "    def __ne__(self, other):\n        return False\n"
            "    __hash__ = None\n"
            "class I(int):\n"
            "    def __eq__(self, other):\n        return True\n"
            "    __hash__ = int.__hash__\n"
            "class S(str):\n"
            "    def __eq__(self, other):\n        return True\n"
            "class L(list):\n"
            "    def __eq__(self, other):\n        return True\n"
            "def any_(): return Any()\n"
            "def int_(): return I(5)\n"
            "def str_(): return S('no')\n"
            "def lst(): return [Any()]\n"
            "def sub(): return L()\n"
            "def dct(): return {'k': I(1)}\n")
    for ep, out in (("any_", "3"), ("int_", "3"), ("str_", "'yes'"), ("lst", "[3]"),
                    ("sub", "[1]"), ("dct", "{'k': 2}")):
        c = one(tmp_path, code, ep, "", out)
        assert c["passed"] is False, (ep, c)
        assert c["error"] is None
        assert isinstance(c["got"], str), c      # its repr


def test_custom_eq_against_expression_keeps_original_semantics(tmp_path):
    code = ("class Any:\n"
            "    def __eq__(self, other):\n        return True\n"
            "def f(): return Any()\n")
    c = one(tmp_path, code, "f", "", "Any()")
    assert c["passed"] is True and c["got"].startswith("<solution.Any object"), c


def test_patched_parser_and_builtins_cannot_pass(tmp_path):
    code = ("import ast, builtins, json\n"
            "ast.literal_eval = lambda *a, **k: 3\n"
            "builtins.eval = lambda *a, **k: 3\n"
            "builtins.type = lambda *a: int\n"
            "json.loads = lambda *a, **k: {'passed': True}\n"
            "import __main__\n"
            "__main__._decode = lambda *a: 5\n"
            "def f(x):\n    return 3\n")
    doc = evaluate(tmp_path, code, "f", [{"input": "1", "output": "5"}])
    assert doc["passed"] is False and doc["case_results"][0]["passed"] is False, doc


def test_fake_results_on_stdout_and_fds_change_nothing(tmp_path):
    fake = json.dumps({"passed": True, "error": None, "case_results": [
        {"case": 0, "input": "1", "passed": True, "got": 5, "expected": 5, "error": None}]})
    code = ("import os, sys\n"
            "FAKE = %r\n"
            "def f(x):\n"
            "    print(FAKE)\n"
            "    sys.stdout.flush()\n"
            "    sys.stderr.write(FAKE)\n"
            "    wrote = []\n"
            "    for fd in range(3, 64 if x == 1 else 3):\n"
            "        for data in (FAKE.encode(), b'R' + len(FAKE).to_bytes(8, 'big') + FAKE.encode()):\n"
            "            try:\n"
            "                os.write(fd, data)\n"
            "                wrote.append(fd)\n"
            "            except OSError:\n"
            "                pass\n"
            "    return x\n" % fake)
    r = evaluate(tmp_path, code, "f", [{"input": "1", "output": "5"}, {"input": "2", "output": "2"}])
    c = r["case_results"]
    assert r["passed"] is False
    assert c[0]["passed"] is False and c[0]["expected"] == 5
    # the case could only reach its own pipe: whatever it wrote there counts as its own report
    assert c[1]["passed"] is True and c[1]["got"] == 2, c


def test_fd3_is_closed_in_the_case(tmp_path):
    code = ("import os\n"
            "def f():\n"
            "    try:\n        os.fstat(3)\n        return 'open'\n"
            "    except OSError:\n        return 'closed'\n")
    assert one(tmp_path, code, "f", "", "'closed'")["passed"] is True


def test_case_processes_are_not_dumpable(tmp_path):
    code = ("import ctypes, os\n"
            "def f():\n"
            "    libc = ctypes.CDLL(None)\n"
            "    return [libc.prctl(3, 0, 0, 0, 0), os.getppid() != 1]\n")
    c = one(tmp_path, code, "f", "", "[0, True]")
    assert c["passed"] is True, c


def test_other_cases_data_is_not_in_memory(tmp_path):
    # Case 2 scans its own address space for runs of 64 equal letters that
    # only other cases' data contains: an input (Z), a literal expected value
    # (R) and an evaluated expected value (S). Its own input (W) must be found:
    # that shows the scan works. The code itself holds no such run.
    code = ("import re\n"
            "def scan():\n"
            "    pats = [re.compile(rb'%s{64}' % c) for c in (b'Z', b'R', b'S', b'W')]\n"
            "    found = [False] * len(pats)\n"
            "    with open('/proc/self/maps') as m:\n"
            "        regions = [l.split() for l in m]\n"
            "    with open('/proc/self/mem', 'rb', 0) as mem:\n"
            "        for r in regions:\n"
            "            if not r[1].startswith('r') or (len(r) > 5 and r[5] in ('[vvar]', '[vsyscall]')):\n"
            "                continue\n"
            "            lo, hi = (int(v, 16) for v in r[0].split('-'))\n"
            "            try:\n"
            "                mem.seek(lo)\n"
            "                data = mem.read(hi - lo)\n"
            "            except (OSError, ValueError, OverflowError):\n"
            "                continue\n"
            "            for i, p in enumerate(pats):\n"
            "                if p.search(data):\n"
            "                    found[i] = True\n"
            "    return found\n"
            "def g(x):\n"
            "    return scan() if x.startswith('W') else x[:1]\n")
    cases = [
        {"input": repr("Z" * 64), "output": repr("R" * 64)},
        {"input": "'1'", "output": "'S' * 64"},
        {"input": repr("W" * 64), "output": "[False, False, False, True]"},
        {"input": repr("Z" * 64), "output": repr("R" * 64)},
    ]
    doc = evaluate(tmp_path, code, "g", cases, timeout_s=20)
    c = doc["case_results"]
    assert c[0]["got"] == "Z" and c[1]["got"] == "1" and c[1]["expected"] == "S" * 64
    assert c[2]["error"] is None, c[2]
    assert c[2]["got"] == [False, False, False, True], c[2]


def test_threads_and_children_are_cleaned_up(tmp_path):
    code = ("import os, threading, time\n"
            "def f(x):\n"
            "    if x == 1:\n"
            "        if os.fork() == 0:\n"
            "            time.sleep(30)\n"
            "            os._exit(0)\n"
            "        threading.Thread(target=time.sleep, args=(30,)).start()\n"
            "    return x\n")
    cases = [{"input": "1", "output": "1"}, {"input": "2", "output": "2"}]
    fd3, out, err, status = run_raw(json.dumps({"code": code, "entry_point": "f", "io_cases": cases,
                                                "case_timeout_s": 5, "case_memory_mb": 256}).encode(),
                                    tmp_path, timeout=20)
    assert status == 0
    assert json.loads(fd3)["passed"] is True


def test_imports_from_work_directory(tmp_path):
    (tmp_path / "helper.py").write_text("def twice(x):\n    return 2 * x\n")
    (tmp_path / "data.txt").write_text("41")
    code = "from helper import twice\ndef f():\n    return twice(int(open('data.txt').read())) + 1 - 1\n"
    assert one(tmp_path, code, "f", "", "82")["passed"] is True


def test_stdin_is_empty_for_the_code(tmp_path):
    code = "def f():\n    try:\n        input()\n    except EOFError:\n        return 'eof'\n"
    assert one(tmp_path, code, "f", "", "'eof'")["passed"] is True


# ----------------------------------------------------------------- unicode

def test_unicode_everywhere(tmp_path):
    code = "# ünïcödé ✓\ndef f(s, t='é'):\n    return s[::-1] + 'é'\nNAME = 'Zoë'\n"
    c = evaluate(tmp_path, code, "f", [
        {"input": "s='Grüße 🐍', t='✓'", "output": "'🐍 eßürGé'"},
        {"input": "s='Zoë'", "output": "NAME[::-1] + 'é'"},
        {"input": "s='x'", "output": "unbekannt_ñ"},
    ])["case_results"]
    assert c[0]["passed"] is True and c[0]["got"] == "🐍 eßürGé" and c[0]["input"] == "s='Grüße 🐍', t='✓'"
    assert c[1]["error"] == "KeyError: 't'\n"
    assert c[2]["error"].startswith("KeyError: 't'")
    c = one(tmp_path, "def f(x):\n    return x\n", "f", "x='\\u2603'", "'☃'")
    assert c["passed"] is True and c["got"] == "☃"


def test_unicode_identifiers_in_keyword_form(tmp_path):
    c = one(tmp_path, "def f(größe, ñ):\n    return größe + ñ\n", "f", "ñ=1, größe=2", "3")
    assert c["passed"] is True, c


def test_lone_surrogates_do_not_break_the_answer(tmp_path):
    c = one(tmp_path, "def f(x):\n    return x + '\\ud800'\n", "f", "'a'", "'a\\ud800'")
    assert c["passed"] is True, c


# -------------------------------------------------------------- protocol

def test_stdout_fallback_without_fd3(tmp_path):
    req = {"code": ADD, "entry_point": "add", "io_cases": [{"input": "a=1, b=2", "output": "3"}],
           "case_timeout_s": 5, "case_memory_mb": 256}
    p = subprocess.run([PYTHON, "-I", "-S", str(HARNESS)], input=json.dumps(req).encode(),
                       capture_output=True, cwd=str(tmp_path), timeout=60)
    assert p.returncode == 0
    assert json.loads(p.stdout)["passed"] is True


def test_prints_go_to_stdout_not_fd3(tmp_path):
    code = "import sys\ndef f(x):\n    print('noise' * 100)\n    print('err', file=sys.stderr)\n    return x\n"
    req = {"code": code, "entry_point": "f", "io_cases": [{"input": "1", "output": "1"}],
           "case_timeout_s": 5, "case_memory_mb": 256}
    fd3, out, err, status = run_raw(json.dumps(req).encode(), tmp_path)
    assert json.loads(fd3)["passed"] is True
    assert b"noise" in out and b"err" in err


def test_bad_requests_still_answer(tmp_path):
    for raw in (b"", b"not json", b"[1]", b'{"code": "x", "io_cases": 5}'):
        fd3, out, err, status = run_raw(raw, tmp_path)
        assert status == 0
        doc = json.loads(fd3)
        assert doc["passed"] is False and doc["error"].startswith("internal:"), doc


def test_defaults_when_limits_missing(tmp_path):
    req = {"code": ADD, "entry_point": "add", "io_cases": [{"input": "a=1, b=2", "output": "3"}]}
    fd3, out, err, status = run_raw(json.dumps(req).encode(), tmp_path)
    assert json.loads(fd3)["passed"] is True


def test_many_cases(tmp_path):
    cases = [{"input": "a=%d, b=%d" % (i, i), "output": str(2 * i + (i == 17))} for i in range(40)]
    c = evaluate(tmp_path, ADD, "add", cases)["case_results"]
    assert [x["passed"] for x in c] == [i != 17 for i in range(40)]


def test_input_parsed_by_the_judge_or_the_case_alike(tmp_path):
    # Inputs up to 64 KiB are parsed by the judge (the case process gets the
    # values, marshalled); longer ones by the case process. Same values.
    value = "[1, -2, (2.5, None, True), {'k': b'v', 3: 'x'}, 3j, {4}, set(), '\\u00e9']"
    code = "def f(x):\n    return repr(x) + ' ' + repr([type(v).__name__ for v in x])\n"
    want = repr(eval(value)) + " " + repr([type(v).__name__ for v in eval(value)])
    short = "x=" + value
    padded = "x=" + " " * (70 << 10) + value
    doc = evaluate(tmp_path, code, "f", [{"input": short, "output": repr(want)},
                                         {"input": padded, "output": repr(want)}])
    assert [c["got"] for c in doc["case_results"]] == [want, want], doc
    assert doc["passed"] is True


def test_large_values_round_trip(tmp_path):
    n = 200000
    c = one(tmp_path, "def f(xs):\n    return sorted(xs)\n", "f",
            "xs=%r" % list(range(n, 0, -1)), repr(list(range(1, n + 1))), timeout_s=60)
    assert c["error"] is None, c["error"]
    assert c["passed"] is True and len(c["got"]) == n


def test_answer_stays_under_the_fd3_cap(tmp_path):
    # two 40 MiB results would make a 80 MiB answer; the executor reads 64
    code = "def f(i):\n    return 'x' * (40 << 20)\n"
    doc = evaluate(tmp_path, code, "f", [{"input": "1", "output": "''"}, {"input": "2", "output": "'x'"}],
                   memory_mb=1024, timeout_s=30)
    for c in doc["case_results"]:
        assert c["passed"] is False and c["error"] is None
        assert c["got"].startswith("<too large to show: 41943042 bytes of JSON>"), c["got"][:80]


# ------------------------------------- the harness's re-implementations

def _load_harness():
    import importlib.util
    spec = importlib.util.spec_from_file_location("evald_harness", HARNESS)
    module = importlib.util.module_from_spec(spec)
    saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in src/
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = saved
    return module


harness = _load_harness()

PATTERN = r'(\w+)\s*=\s*(.+?)(?=,\s*\w+\s*=|$)'


def test_keyword_pairs_match_re_finditer():
    import re
    rng = random.Random(1234)
    alphabet = ["a", "b", "x", "_", "1", "é", "=", "=", ",", ",", " ", " ", "\n", "\t",
                "'", '"', "[", "]", "\u2003", "\x1c", "٣"]
    fixed = ["a=1, b=2", 's="a=1, b", n=2', "a=", "a= ", "a=\n", "a= \n", "a=1\n", "a=1\nb=2",
             "a =1 ,b= 2", "a=1,,b=2", "=1", "a==1", "a=1, =2", "x=[1, 2], y=(3, 4)",
             "a=1, b", "a=1, b=", "é=1", "a = \n 1", "a=,b=1", "a=1, b =2\n"]
    samples = fixed + ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30)))
                       for _ in range(20000)]
    for s in samples:
        want = [(m.group(1), m.group(2)) for m in re.finditer(PATTERN, s)]
        assert harness._keyword_pairs(s) == want, repr(s)


def test_literal_eval_matches_ast():
    import ast
    samples = ["1", " 1", "\t-1", "+1", "1+2j", "-1-2j", "1+2", "[1, (2, {3: 'x'})]", "set()",
               "set([1])", "{1, 2}", "{}", "b'x'", "...", "None", "True", "(1,)", "1, 2", "",
               "x", "f()", "[1, ", "1e999", "-(1)", "--1", "{[1]: 2}", "0x1f", "1_000",
               "'é'", "\n1", "1\n", "# c\n1", "  1", "u'x'", "f'x'", "(yield)", "lambda: 1"]
    for s in samples:
        try:
            want = ("ok", ast.literal_eval(s))
        except Exception:
            want = ("fail",)
        try:
            got = ("ok", harness._literal_eval(s))
        except Exception:
            got = ("fail",)
        assert got == want and (len(got) == 1 or type(got[1]) is type(want[1])), s
    with pytest.raises(ValueError):
        harness._literal_eval(5)


def test_json_helpers_match_json():
    docs = [{"a": [1, 2.5, "é\u2028", None, True, False, {"b": ""}], "c": -3},
            [], "x", 1e300, {"s": "\ud800"}]
    for d in docs:
        for ascii_only in (True, False):
            assert harness._dumps(d, ascii_only) == json.dumps(
                d, ensure_ascii=ascii_only, separators=(",", ":"))
        assert harness._loads(json.dumps(d)) == d
    for bad in ("", "[1,", "{} x", "nul"):
        with pytest.raises(ValueError):
            harness._loads(bad)


def test_encode_decode_round_trip():
    values = [0, -1, 2 ** 200, -(2 ** 70), 1.5, -0.0, float("inf"), 1e-310, 1 + 2j, b"\x00\xff",
              "é", None, True, False, ..., [1, (2, {3: frozenset({4})})], {(1, 2): {5}},
              {"a": [b"", ()]}]
    for v in values:
        d = harness._decode(json.loads(json.dumps(harness._encode(v, 0))), 0)
        assert d == v and type(d) is type(v) and repr(d) == repr(v)
    for bad in ([], ["i"], ["i", 5], ["l", "x"], ["d", [[1]]], {"a": 1}, 5, 1.5, ["s", [["l", []]]],
                ["x", "1"], ["f", "zz"]):
        with pytest.raises(Exception):
            harness._decode(bad, 0)
