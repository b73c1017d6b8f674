"""The original service's README, step by step, as its users run it (curl
and repl_client.py send exactly these requests), and many clients at once."""

import concurrent.futures
import uuid

import pytest


def test_readme_usage_flow(api):
    # 1. Create a session: a UUID and a first write_file.
    sid = str(uuid.uuid4())
    body = api.write(sid, "example.py", "print('Hello, World!')")
    assert body == dict(body, success=True, id=sid, rel_path="example.py")

    # 2. Run a command (the README says `python`; evald documents `python3`).
    out = api.run(sid, "python3 example.py")
    assert out["stdout"] == "Hello, World!\n" and out["stderr"] == "", out
    assert out["id"] == sid

    # 3. Read a file.
    got = api.ok(api.read(sid, "example.py"))
    assert got == dict(got, content="print('Hello, World!')", id=sid, rel_path="example.py")

    # 4. Evaluate code with test cases.
    res = api.evaluate("def add(a, b):\n    return a + b", "add",
                       [{"input": "a=1, b=2", "output": "3"},
                        {"input": "a=5, b=5", "output": "10"}], sid=sid)
    assert res["passed"] is True and res["error"] is None
    assert [c["passed"] for c in res["case_results"]] == [True, True]

    # 5. Fork the session.
    new = api.ok(api.post("/fork_session", {"id": sid}))["new_id"]
    assert api.content(new, "example.py") == "print('Hello, World!')"

    # The async client's example goes on: rename, delete.
    renamed = api.ok(api.post("/rename_file", {"id": new, "old_path": "example.py",
                                               "new_path": "renamed.py"}))
    assert renamed == dict(renamed, success=True, id=new, old_path="example.py",
                           new_path="renamed.py")
    assert api.run(new, "python3 renamed.py")["stdout"] == "Hello, World!\n"
    deleted = api.ok(api.post("/delete_file", {"id": sid, "rel_path": "example.py"}))
    assert deleted == dict(deleted, success=True, id=sid, rel_path="example.py")
    api.error(api.read(sid, "example.py"), 404, "not_found")
    assert api.content(new, "renamed.py") == "print('Hello, World!')"


def test_readme_python_command(api, sid):
    """The README's literal `python example.py`: the sandbox has `python`."""
    api.write(sid, "example.py", "print('Hello, REPL!')")
    out = api.run(sid, "python example.py")
    assert out["stdout"] == "Hello, REPL!\n", out


def test_async_client_example(api):
    # ReplClient.evaluate_code(code="def add(a, b): return a + b", ...)
    res = api.evaluate("def add(a, b): return a + b", "add", [{"input": "a=2, b=3", "output": "5"}])
    assert res["passed"] is True


def test_concurrent_evaluations(api):
    def job(i):
        res = api.evaluate("def add(a, b):\n    return a + b", "add",
                           [{"input": "a=%d, b=2" % i, "output": str(i + 2)},
                            {"input": "a=1, b=%d" % i, "output": str(i + 1)}])
        return res["passed"], [c["got"] for c in res["case_results"]]

    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        results = list(ex.map(job, range(48)))
    for i, (passed, got) in enumerate(results):
        assert passed is True and got == [i + 2, i + 1], (i, passed, got)


def test_concurrent_writes_to_one_session(api, sid):
    api.write(sid, "first.txt", "0")

    def job(i):
        return api.post("/write_file", {"id": sid, "rel_path": "many/%02d.txt" % i,
                                        "content": str(i) * (i + 1)}).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        codes = list(ex.map(job, range(32)))
    assert codes == [200] * 32
    for i in range(32):
        assert api.content(sid, "many/%02d.txt" % i) == str(i) * (i + 1)
    out = api.run(sid, "ls many | wc -l")
    assert out["stdout"].strip() == "32"


def test_concurrent_runs(api):
    sids = [str(uuid.uuid4()) for _ in range(8)]
    for s in sids:
        api.write(s, "id.txt", s)

    def job(s):
        return api.run(s, "cat id.txt; echo $((6*7)) > out.txt")["stdout"]

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        outs = list(ex.map(job, sids))
    assert outs == sids
    for s in sids:
        assert api.content(s, "out.txt") == "42\n"


@pytest.mark.parametrize("n", [1, 200])
def test_many_cases(api, n):
    res = api.evaluate("def sq(x):\n    return x * x", "sq",
                       [{"input": str(i), "output": str(i * i)} for i in range(n)])
    assert res["passed"] is True
    assert len(res["case_results"]) == n
