"""POST /evaluate_code, end to end: the io_cases semantics of the original
service (API.md section 1, "io_cases, precisely") and per-case isolation."""

import pytest
from samples import FORGED_REPORT_AT_IMPORT

ADD = "def add(a, b):\n    return a + b\n"


def cases_of(body, n):
    res = body["case_results"]
    assert isinstance(res, list) and len(res) == n, body
    for i, c in enumerate(res):
        assert c["case"] == i, body
        assert isinstance(c["passed"], bool)
        assert "got" in c and "expected" in c and "input" in c
        assert c["error"] is None or isinstance(c["error"], str)
    return res


def one(api, code, entry_point, inp, out, **extra):
    """Evaluates one case; returns its case result."""
    body = api.evaluate(code, entry_point, [{"input": inp, "output": out}], **extra)
    (c,) = cases_of(body, 1)
    assert body["passed"] is c["passed"]
    return c


# --------------------------------------------------------------- basics
def test_readme_add(api, sid):
    body = api.evaluate(ADD, "add", [{"input": "a=1, b=2", "output": "3"},
                                     {"input": "a=5, b=5", "output": "10"}], sid=sid)
    assert body["passed"] is True
    assert body["error"] is None
    c = cases_of(body, 2)
    assert {k: c[0][k] for k in ("case", "input", "passed", "got", "expected", "error")} == {
        "case": 0, "input": "a=1, b=2", "passed": True, "got": 3, "expected": 3, "error": None}
    assert c[1]["got"] == 10 and c[1]["passed"] is True


def test_failing_case_fails_the_whole(api):
    body = api.evaluate(ADD, "add", [{"input": "a=1, b=2", "output": "3"},
                                     {"input": "a=1, b=2", "output": "4"}])
    assert body["passed"] is False
    assert body["error"] is None
    c = cases_of(body, 2)
    assert c[0]["passed"] is True
    assert c[1]["passed"] is False and c[1]["got"] == 3 and c[1]["expected"] == 4
    assert c[1]["error"] is None


def test_module_failing_only_in_a_later_case_fails_every_case_from_there(api):
    """The module runs afresh in each case; here its second run raises (the
    job's /tmp, shared by its cases, counts the runs). The first case
    passes; the second and every later one fail with that error, also the
    cases whose spec the master had already sent while the second ran; the
    slot then serves the next evaluation as usual."""
    code = ("import os\n"
            "n = len(os.listdir('/tmp'))\n"
            "open('/tmp/run%d' % n, 'w').close()\n"
            "if n == 1:\n"
            "    raise RuntimeError('the second run')\n"
            "def f(x):\n"
            "    return x\n")
    for _ in range(2):
        body = api.evaluate(code, "f", [{"input": str(i), "output": str(i)} for i in range(5)])
        c = cases_of(body, 5)
        assert c[0]["passed"] is True and c[0]["error"] is None, body
        for r in c[1:]:
            assert r["passed"] is False, body
            assert r["error"].startswith("RuntimeError: the second run"), body
        assert body["passed"] is False and body["error"].startswith("RuntimeError"), body
    assert api.evaluate(ADD, "add", [{"input": "a=1, b=2", "output": "3"}])["passed"] is True


def test_a_module_that_fails_in_the_first_case_is_run_no_more(stack_factory, make_api):
    """The master sends the second case's spec while the first case runs.
    When the first case's module raises, every case fails with that error,
    and the case sent ahead must not run: here its module would sleep for
    the whole case limit (60 s), holding the only slot; the next
    evaluation must come back well within that."""
    code = ("import os\n"
            "if os.path.exists('/tmp/ran'):\n"
            "    import time\n"
            "    time.sleep(120)\n"
            "open('/tmp/ran', 'w').close()\n"
            "raise RuntimeError('the first run')\n")
    st = stack_factory.start("module-fails-first", executors=1, api_workers=2,
                             overrides={"executor_slots": 1})
    api = make_api(st)
    try:
        for _ in range(2):
            body = api.evaluate(code, "f", [{"input": str(i), "output": str(i)} for i in range(3)],
                                limits={"time_s": 60})
            c = cases_of(body, 3)
            assert body["passed"] is False and body["error"].startswith("RuntimeError: the first"), body
            assert all(r["error"] == body["error"] for r in c), body
            r = api.post("/evaluate_code", {"id": "after", "code": ADD, "entry_point": "add",
                                            "io_cases": [{"input": "a=1, b=2", "output": "3"}]},
                         timeout=30)
            assert api.ok(r)["passed"] is True
    finally:
        stack_factory.stop(st)


def test_a_report_forged_by_the_module_fails_every_case(api):
    """Module-level code that writes a well-formed report on every
    descriptor, before its module has run: that is no case's result; every
    case fails alike (the runner, which saw no marker, runs no further
    case, and the judge expects none)."""
    body = api.evaluate(FORGED_REPORT_AT_IMPORT, "f", [{"input": "1", "output": "1"}] * 3)
    c = cases_of(body, 3)
    assert body["passed"] is False and body["error"] == "internal: malformed case result", body
    assert all(r["error"] == body["error"] and not r["passed"] for r in c), body


def test_language_python_explicit(api):
    body = api.evaluate(ADD, "add", [{"input": "a=1, b=2", "output": "3"}], language="python")
    assert body["passed"] is True


def test_no_cases(api):
    body = api.evaluate(ADD, "add", [])
    assert body["case_results"] == []
    assert body["error"] is None


# ---------------------------------------------------------------- input
KEYWORD_CASES = [
    # (code, input, output, passes)
    ("def f(s, t):\n    return s + '|' + t", 's="a,b", t="c=d"', '"a,b|c=d"', True),
    ("def f(s):\n    return s", 's="k=v, w"', '"k=v, w"', True),
    ("def f(s):\n    return s", "s='a, b'", '"a, b"', True),
    ("def f(a, b):\n    return [a, b]", "a = 'x' ,  b= 2", "['x', 2]", True),
    ("def f(d):\n    return d['k']", "d={'k': [1, 2]}", "[1, 2]", True),
    ("def f(a, b):\n    return a + b", "a=1, b=2, c=3", "3", True),       # extra names ignored
    ("def f(b, a):\n    return a - b", "a=10, b=3", "7", True),           # bound by name
    ("def f(*, a=1):\n    return a", "a=5", "1", True),                   # keyword-only never passed
    ("def f(s):\n    return s", 's="naïve ✓ 🐍"', '"naïve ✓ 🐍"', True),
]


@pytest.mark.parametrize("code,inp,out,passes", KEYWORD_CASES,
                         ids=[c[1] for c in KEYWORD_CASES])
def test_keyword_input(api, code, inp, out, passes):
    c = one(api, code, "f", inp, out)
    assert c["passed"] is passes, c
    assert c["error"] is None, c


def test_keyword_missing_name_is_keyerror_even_with_default(api):
    c = one(api, "def f(a, b=2):\n    return a", "f", "a=1", "1")
    assert c["passed"] is False
    assert c["error"].startswith("KeyError: 'b'"), c


def test_unparsable_value_is_dropped(api):
    # `2**3` is not a literal: the pair is dropped, nothing parsed, the whole
    # input is no literal either, so f is called with no argument.
    c = one(api, "def f(a):\n    return a", "f", "a=2**3", "8")
    assert c["passed"] is False
    assert c["error"].startswith("TypeError:") and "'a'" in c["error"], c


def test_value_running_into_next_name(api):
    # s's value stops at ', y=': '"x' and '1"' are no literals, only t parses.
    c = one(api, "def f(s, t):\n    return s", "f", 's="x, y=1", t="z"', '"x"')
    assert c["passed"] is False
    assert c["error"].startswith("KeyError: 's'"), c


def test_quoted_string_with_equals_is_keyword_form(api):
    # The pattern finds a=1 inside the quotes, so this is keyword form.
    c = one(api, "def f(x):\n    return x", "f", '"a=1, b=2"', '"a=1, b=2"')
    assert c["passed"] is False
    assert c["error"].startswith("KeyError: 'x'"), c


@pytest.mark.parametrize("code,inp,out", [
    ("def f(x):\n    return sum(x)", "[1, 2, 3]", "6"),
    ("def f(x):\n    return x", "1, 2", "(1, 2)"),                 # one tuple argument
    ("def f(x):\n    return x['a'] * 2", "{'a': 21}", "42"),
    ("def f(x):\n    return x.upper()", "'abc, d=e'", "'ABC, D=E'"),
    ("def f(x):\n    return x[::-1]", '"héllo✓🐍"', '"🐍✓olléh"'),
    ("def f():\n    return 7", "", "7"),                            # no argument
    ("def f(x=None):\n    return x", "not a literal", "None"),     # no argument
    ("def f(x):\n    return x", "None", "None"),
    ("def f(x):\n    return -x", "-5", "5"),
])
def test_positional_input(api, code, inp, out):
    c = one(api, code, "f", inp, out)
    assert c["passed"] is True, c
    assert c["error"] is None


def test_method_entry_point(api):
    code = ("class Solution:\n"
            "    def twoSum(self, nums, target):\n"
            "        seen = {}\n"
            "        for i, n in enumerate(nums):\n"
            "            if target - n in seen:\n"
            "                return [seen[target - n], i]\n"
            "            seen[n] = i\n")
    body = api.evaluate(code, "Solution().twoSum", [
        {"input": "nums=[2,7,11,15], target=9", "output": "[0, 1]"},
        {"input": "nums = [3,2,4], target = 6", "output": "[1, 2]"},
        {"input": "nums=[3,3], target=6", "output": "[0, 2]"},
    ])
    c = cases_of(body, 3)
    assert [x["passed"] for x in c] == [True, True, False], c
    assert c[0]["got"] == [0, 1]
    assert body["passed"] is False


# --------------------------------------------------------------- output
def test_output_expression_uses_globals(api):
    code = "K = 42\ndef add(a, b):\n    return a + b\ndef ident(x):\n    return x\n"
    body = api.evaluate(code, "ident", [
        {"input": "42", "output": "K"},
        {"input": "3", "output": "add(1, 2)"},
        {"input": "[42, 3]", "output": "[K, add(1, 2)]"},
    ])
    c = cases_of(body, 3)
    assert all(x["passed"] for x in c), c
    assert c[0]["expected"] == 42
    assert body["passed"] is True


def test_output_name_error(api):
    code = "def ident(x):\n    return x\n"
    body = api.evaluate(code, "ident", [
        {"input": "1", "output": "hello"},
        {"input": "True", "output": "true"},
        {"input": "None", "output": "null"},
    ])
    for c in cases_of(body, 3):
        assert c["passed"] is False
        assert c["error"].startswith("NameError"), c
    assert body["case_results"][0]["expected"] == "hello"


@pytest.mark.parametrize("ret,out,passes", [
    ("3.0", "3", True),
    ("True", "1", True),
    ("(1, 2)", "[1, 2]", False),
    ("0.1 + 0.2", "0.3", False),
    ("{'a': [1, {'b': None}]}", "{'a': [1, {'b': None}]}", True),
    ("{1, 2}", "{2, 1}", True),
    ("'abc'", "'abc'", True),
    ("'3'", "3", False),
    ("2 ** 100", "1267650600228229401496703205376", True),
])
def test_verdict_is_python_equality(api, ret, out, passes):
    c = one(api, "def f():\n    return %s\n" % ret, "f", "", out)
    assert c["passed"] is passes, c
    assert c["error"] is None


def test_big_int_got_is_exact(api):
    # Beyond 64 bits a JSON number is lossy in most parsers: exact as a
    # number or as its repr, never rounded.
    c = one(api, "def f():\n    return 2 ** 100\n", "f", "", "2 ** 100")
    assert c["passed"] is True
    assert c["got"] in (2 ** 100, repr(2 ** 100)), c


def test_custom_eq_is_not_trusted(api):
    code = ("class Any:\n"
            "    def __eq__(self, other):\n"
            "        return True\n"
            "    def __ne__(self, other):\n"
            "        return False\n"
            "    __hash__ = None\n"
            "class I(int):\n"
            "    def __eq__(self, other):\n"
            "        return True\n"
            "class S(str):\n"
            "    def __eq__(self, other):\n"
            "        return True\n"
            "def any_():\n    return Any()\n"
            "def int_():\n    return I(5)\n"
            "def str_():\n    return S('no')\n"
            "def lst():\n    return [Any()]\n")
    for ep, out in (("any_", "3"), ("int_", "3"), ("str_", "'yes'"), ("lst", "[3]")):
        c = one(api, code, ep, "", out)
        assert c["passed"] is False, (ep, c)
        assert isinstance(c["got"], (str, int, list)), c


def test_patching_the_parser_cannot_pass_a_wrong_answer(api):
    code = ("import ast, builtins\n"
            "ast.literal_eval = lambda *a, **k: 3\n"
            "builtins.eval = lambda *a, **k: 3\n"
            "def f(x):\n    return 3\n")
    c = one(api, code, "f", "1", "5")
    assert c["passed"] is False, c


def test_prints_are_not_part_of_the_result(api):
    code = "import sys\ndef f(x):\n    print('noise' * 1000)\n    print('err', file=sys.stderr)\n    return x\n"
    c = one(api, code, "f", "1", "1")
    assert c["passed"] is True and c["error"] is None


# --------------------------------------------------------------- errors
def test_exception_has_type_message_traceback(api):
    code = "def f(x):\n    if x == 2:\n        raise ValueError('boom ünï')\n    return x\n"
    body = api.evaluate(code, "f", [{"input": "1", "output": "1"},
                                    {"input": "2", "output": "2"},
                                    {"input": "3", "output": "3"}])
    c = cases_of(body, 3)
    assert [x["passed"] for x in c] == [True, False, True]
    err = c[1]["error"]
    assert err.startswith("ValueError: boom ünï\n"), err
    assert "line" in err and len(err) > len("ValueError: boom ünï\n")
    assert body["passed"] is False and body["error"] is None


def test_missing_or_mistyped_case_keys(api):
    body = api.evaluate("def f(x):\n    return x\n", "f", [
        {"input": "1"},
        {"output": "1"},
        {"input": 1, "output": "1"},
        {"input": "1", "output": 1},
        {"input": "1", "output": "1"},
    ])
    c = cases_of(body, 5)
    assert c[0]["error"].startswith("KeyError: 'output'"), c[0]
    assert c[1]["error"].startswith("KeyError: 'input'"), c[1]
    assert c[2]["error"].startswith("TypeError"), c[2]
    assert c[3]["error"].startswith(("TypeError", "ValueError")), c[3]
    assert [x["passed"] for x in c] == [False, False, False, False, True]


def test_syntax_error_fails_every_case(api):
    body = api.evaluate("def f(:\n    return 1\n", "f", [{"input": "1", "output": "1"},
                                                       {"input": "2", "output": "2"}])
    assert body["passed"] is False
    assert isinstance(body["error"], str) and "SyntaxError" in body["error"], body
    assert all(c["passed"] is False for c in cases_of(body, 2))


def test_error_at_import_fails_every_case(api):
    body = api.evaluate("raise RuntimeError('at import')\ndef f(x):\n    return x\n", "f",
                        [{"input": "1", "output": "1"}])
    assert body["passed"] is False
    assert all(c["passed"] is False for c in cases_of(body, 1))
    assert "RuntimeError" in (body["error"] or "") + (body["case_results"][0]["error"] or "")


def test_unknown_entry_point(api):
    body = api.evaluate("def f(x):\n    return x\n", "nope", [{"input": "1", "output": "1"}])
    assert body["passed"] is False
    assert "NameError" in (body["error"] or "") + (body["case_results"][0]["error"] or "")


def test_unknown_language(api):
    body = api.evaluate("whatever", "f", [{"input": "1", "output": "1"}], language="cobol")
    assert body["passed"] is False
    assert isinstance(body["error"], str) and body["error"], body
    assert all(c["passed"] is False for c in body["case_results"])


# ------------------------------------------------------------ isolation
def test_looping_cases_time_out_alone(api, limits):
    code = ("import signal, time\n"
            "def f(x):\n"
            "    if x == 'spin':\n"
            "        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGXCPU):\n"
            "            signal.signal(s, signal.SIG_IGN)\n"
            "        while True:\n"
            "            try:\n"
            "                while True:\n"
            "                    pass\n"
            "            except BaseException:\n"
            "                pass\n"
            "    if x == 'sleep':\n"
            "        time.sleep(1000)\n"
            "    return x\n")
    body = api.evaluate(code, "f", [{"input": "'a'", "output": "'a'"},
                                    {"input": "'spin'", "output": "'spin'"},
                                    {"input": "'b'", "output": "'b'"},
                                    {"input": "'sleep'", "output": "'sleep'"},
                                    {"input": "'c'", "output": "'c'"}])
    c = cases_of(body, 5)
    assert [x["passed"] for x in c] == [True, False, True, False, True], c
    assert c[1]["error"] == "Timeout", c[1]
    assert c[3]["error"] == "Timeout", c[3]
    assert body["passed"] is False and body["error"] is None


def test_per_request_time_limit(api):
    code = "def f(x):\n    while x:\n        pass\n    return x\n"
    body = api.evaluate(code, "f", [{"input": "0", "output": "0"},
                                    {"input": "1", "output": "1"}],
                        limits={"time_s": 1})
    c = cases_of(body, 2)
    assert c[0]["passed"] is True
    assert c[1]["error"] == "Timeout", c


def test_memory_exhaustion_fails_alone(api):
    code = ("def f(x):\n"
            "    if x == 0:\n"
            "        a = []\n"
            "        while True:\n"
            "            a.append(bytearray(32 * 1024 * 1024))\n"
            "    return x\n")
    body = api.evaluate(code, "f", [{"input": "1", "output": "1"},
                                    {"input": "0", "output": "0"},
                                    {"input": "2", "output": "2"}])
    c = cases_of(body, 3)
    assert [x["passed"] for x in c] == [True, False, True], c
    assert c[1]["error"], c[1]


def test_process_exit_fails_alone(api):
    code = ("import os, signal, sys\n"
            "def f(x):\n"
            "    if x == 1:\n"
            "        os._exit(3)\n"
            "    if x == 2:\n"
            "        os.kill(os.getpid(), signal.SIGKILL)\n"
            "    if x == 3:\n"
            "        sys.exit(0)\n"
            "    if x == 4:\n"
            "        os._exit(0)\n"
            "    return x\n")
    body = api.evaluate(code, "f", [{"input": str(i), "output": str(i)} for i in range(6)])
    c = cases_of(body, 6)
    assert [x["passed"] for x in c] == [True, False, False, False, False, True], c
    assert c[1]["error"] and c[2]["error"] and c[4]["error"], c
    # the first case's process (made before the job) too: after the module
    # ran, its death is its own
    body = api.evaluate(code, "f", [{"input": "1", "output": "1"}, {"input": "5", "output": "5"}])
    c = cases_of(body, 2)
    assert c[0]["passed"] is False and "exit status 3" in c[0]["error"], c
    assert c[1]["passed"] is True and body["error"] is None, body


def test_no_state_leaks_between_cases(api):
    code = ("import math, builtins\n"
            "seen = []\n"
            "def f(x):\n"
            "    seen.append(x)\n"
            "    n = len(seen)\n"
            "    if x == 0:\n"
            "        math.pi = 3\n"
            "        builtins.len = lambda o: -1\n"
            "    return [n, math.pi, len('ab')]\n")
    body = api.evaluate(code, "f", [
        {"input": "0", "output": "[1, 3, -1]"},
        {"input": "1", "output": "[1, 3.141592653589793, 2]"},
        {"input": "2", "output": "[1, 3.141592653589793, 2]"},
    ])
    c = cases_of(body, 3)
    assert c[1]["passed"] and c[2]["passed"], c


def test_module_level_loop_does_not_hang(api):
    r = api.post("/evaluate_code", {"id": "loop-at-import", "code": "while True:\n    pass\n",
                                    "entry_point": "f",
                                    "io_cases": [{"input": "1", "output": "1"}]},
                 timeout=90)
    body = api.ok(r)
    assert body["passed"] is False


def test_unicode_everywhere(api):
    code = "def grüße(name):\n    return 'Grüße, ' + name + ' ✓'\n"
    c = one(api, code, "grüße", "name='Zoë 🐍'", "'Grüße, Zoë 🐍 ✓'")
    assert c["passed"] is True, c
    assert c["got"] == "Grüße, Zoë 🐍 ✓"
    assert c["input"] == "name='Zoë 🐍'"


# ------------------------------------------------------- the zygote's tail

def test_an_idle_slot_keeps_its_zygote(stack_factory, make_api):
    """The slot publishes an evaluation's answer before the job's processes
    have ended and reads their end before its next job. A slot that stays
    idle past the last job's deadline still reads that end (it is long
    there) and keeps its zygote: the next evaluation runs in it, not in a
    one-shot sandbox after a failed try."""
    import time
    st = stack_factory.start("idle-zygote", executors=1, api_workers=2,
                             overrides={"executor_slots": 1, "run_timeout_max_s": 1,
                                        "run_timeout_default_s": 1})
    api = make_api(st)
    try:
        assert one(api, ADD, "add", "a=1, b=2", "3")["passed"] is True
        time.sleep(1 + 10 + 1.5)      # the job's wall limit, the grace, a margin
        assert one(api, ADD, "add", "a=2, b=2", "4")["passed"] is True
        log = st.log_path("executor0").read_text()
        assert "zygote sandbox:" not in log, log[-2000:]
    finally:
        stack_factory.stop(st)


def test_a_zygote_without_its_module_says_why_and_the_job_still_runs(stack_factory, make_api,
                                                                      tmp_path):
    """The zygote's C module is built for one Python. A zygote that cannot
    load it serves no job: the evaluation runs in a one-shot sandbox, and
    the executor's log says what the zygote could not load."""
    import shutil
    from stack import ROOT
    harness = tmp_path / "harness"
    shutil.copytree(ROOT / "src" / "executor" / "harness", harness,
                    ignore=shutil.ignore_patterns("__pycache__", "*.c"))
    (harness / "_zygote.so").write_bytes(b"not a shared object\n")
    st = stack_factory.start("no-module", executors=1, api_workers=2,
                             overrides={"executor_slots": 1, "harness_dir": str(harness)})
    api = make_api(st)
    try:
        assert one(api, ADD, "add", "a=1, b=2", "3")["passed"] is True
        log = st.log_path("executor0").read_text()
        assert "cannot load /run/evald/_zygote.so" in log, log[-2000:]
    finally:
        stack_factory.stop(st)


def test_every_case_has_the_jobs_limits_descriptors_and_place(api):
    """The first case's process is made before its job arrives and gets the
    job's limits and descriptors when it comes; the later ones are forked
    from the runner. Every case must find the same: the job's rlimits, only
    stdin, stdout, stderr and its report pipe open, /work as its directory,
    a process group of its own."""
    code = ("import os, resource as R\n"
            "def f(i):\n"
            "    lim = [R.getrlimit(r) for r in (R.RLIMIT_CPU, R.RLIMIT_AS, R.RLIMIT_NPROC,\n"
            "           R.RLIMIT_FSIZE, R.RLIMIT_NOFILE, R.RLIMIT_STACK, R.RLIMIT_CORE,\n"
            "           R.RLIMIT_MEMLOCK, R.RLIMIT_MSGQUEUE)]\n"
            "    fds = []\n"
            "    for fd in sorted(os.listdir('/proc/self/fd'), key=int):\n"
            "        try:\n"
            "            fds.append(os.readlink('/proc/self/fd/' + fd).split(':')[0])\n"
            "        except OSError:\n"
            "            pass                    # the listing's own\n"
            "    return [lim, fds, os.getcwd(), os.getpgid(0) == os.getpid()]\n")
    body = api.evaluate(code, "f", [{"input": str(i), "output": "None"} for i in range(3)])
    got = [c["got"] for c in cases_of(body, 3)]
    assert got[0] == got[1] == got[2], got
    lim, fds, cwd, own_group = got[0]
    mib = 1 << 20
    assert lim[2:] == [[64, 64], [64 * mib, 64 * mib], [256, 256], [64 * mib, 64 * mib],
                       [0, 0], [0, 0], [0, 0]], lim
    assert lim[0][1] <= 2 + 2 and lim[1][0] <= 512 * mib, lim     # the case's own CPU and memory
    assert fds == ["/dev/null", "pipe", "pipe", "pipe"], fds
    assert cwd == "/work" and own_group is True, got[0]


def test_every_case_runs_on_the_shared_huge_page_code_and_nothing_is_writable_and_executable(api):
    """The zygote puts the interpreter's code on anonymous huge pages
    (zygote.c, huge_text) that every process it forks shares. Each case,
    the one made ahead and the ones forked later, must find them mapped
    read-only and executable (when the kernel gives huge pages at all), and
    no mapping of a case may be both writable and executable."""
    code = ("def f(i):\n"
            "    maps, cur = [], None\n"
            "    with open('/proc/self/smaps') as m:\n"
            "        for line in m:\n"
            "            w = line.split()\n"
            "            if '-' in w[0] and len(w) >= 5:\n"
            "                cur = [w[1], len(w) > 5 and w[5] or '']\n"
            "                maps.append(cur)\n"
            "            elif w[0] == 'AnonHugePages:':\n"
            "                cur.append(int(w[1]))\n"
            "    return maps\n")
    body = api.evaluate(code, "f", [{"input": str(i), "output": "None"} for i in range(3)])
    with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
        thp = "[never]" not in f.read()
    for c in cases_of(body, 3):
        maps = c["got"]
        assert maps and all(len(m) == 3 for m in maps), maps
        wx = [m for m in maps if "w" in m[0] and "x" in m[0]]
        assert wx == [], wx
        huge = [m for m in maps if m[0] == "r-xp" and m[1] == "" and m[2] >= 2048]
        assert bool(huge) is thp, maps


def test_large_inputs_and_results_pass_through_the_runner(api):
    """The runner reads each case's spec and report into buffers that grow
    as needed: inputs from a few bytes to 300 KB (longer than the judge
    parses itself), results up to 3 MB, alternating, each judged exactly."""
    code = "def f(s, n):\n    return s[:3] + 'y' * n\n"
    sizes = [(10, 5), (300_000, 3_000_000), (20, 1), (70_000, 100_000), (5, 0)]
    cases = [{"input": "s=%r, n=%d" % ("x" * a, b), "output": "%r + 'y' * %d" % ("x" * min(a, 3), b)}
             for a, b in sizes]
    body = api.evaluate(code, "f", cases)
    c = cases_of(body, len(sizes))
    assert [x["passed"] for x in c] == [True] * len(sizes), [(x["passed"], x["error"]) for x in c]
    assert [len(x["got"]) for x in c] == [min(a, 3) + b for a, b in sizes]
