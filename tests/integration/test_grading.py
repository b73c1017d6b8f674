"""The autograder's routes on a real stack: every route for every role,
assignments created, replaced and deleted, what a student may see of hidden
tests (the public view, and results in each hidden_feedback mode), bad
assignments refused over HTTP and by `evalctl assignment load`, the
gradebook (best score, totals, CSV), regrading, late submissions, a
submission whose assignment vanished before it was graded, and evalctl's
grading commands.

One stack for the module (two executors); a second one without executors
for the test of a submission that waits in the queue. Every assignment here
is small and uses limits.time_s = 2 so that the module stays quick.
"""

import json
import re
import time
from pathlib import Path

import pytest

from client import Api
from grading import make_token, put, put_ok, submit, submit_ok, wait_graded  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

KiB = 1024
MiB = 1024 * KiB

OVERRIDES = {
    "submission_max_bytes": 64 * KiB,
    "assignment_max_bytes": 256 * KiB,
    "case_timeout_s": 2,
    "output_max_bytes": 1 * MiB,
}

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
RESULT_KEYS = {"submission_id", "assignment", "student_id", "status", "score", "max_points",
               "late", "created_at", "graded_at", "tests", "feedback"}
ROW_KEYS = {"name", "visibility", "status", "points", "max_points", "message"}
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
BOGUS_TOKEN = "evd_" + "A" * 43


# ------------------------------------------------------------------ helpers

def wait_quiet(admin, timeout=90):
    """Waits until no submission of the stack is queued or grading."""
    deadline = time.monotonic() + timeout
    while True:
        rows = admin.get("/submissions", params={"limit": 1000}).json()
        busy = [s for s in rows if s["status"] in ("queued", "grading")]
        if not busy:
            return
        assert time.monotonic() < deadline, "still being graded: %s" % busy[:5]
        time.sleep(0.25)


def wait_one(api, sid, timeout=90):
    return wait_graded(api, [sid], timeout)[sid]


def rows_by_name(result):
    return {t["name"]: t for t in result["tests"]}


def io_test(name, entry_point, inp, out, points=1, visibility="public"):
    return {"kind": "io", "name": name, "entry_point": entry_point, "input": inp,
            "output": out, "points": points, "visibility": visibility}


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def st(stack_factory):
    s = stack_factory.start("grading", executors=2, api_workers=4, overrides=OVERRIDES)
    assert s.admin_token, "evalctl made no admin token: %s" % s.admin_token_error
    yield s
    stack_factory.stop(s)


class Who:
    pass


@pytest.fixture(scope="module")
def who(st):
    w = Who()
    w.admin = Api(st.url, token=st.admin_token, redis=st.redis)

    def token(role, student_id=None):
        return make_token(w.admin, role, student_id)

    w.token = token
    w.client = Api(st.url, token=token("client"), redis=st.redis)
    w.alice = Api(st.url, token=token("student", "alice"), redis=st.redis)
    w.bob = Api(st.url, token=token("student", "bob"), redis=st.redis)
    w.anon = Api(st.url, redis=st.redis)
    w.bogus = Api(st.url, token=BOGUS_TOKEN, redis=st.redis)
    w.st = st
    return w


# A function graded by io tests: the assignment every route test uses.
RT_IO = {
    "title": "Routes: double a number",
    "language": "python",
    "max_points": 2,
    "hidden_feedback": "summary",
    "limits": {"time_s": 2},
    "tests": [io_test("double 2", "double", "2", "4"),
              io_test("double 5", "double", "5", "10", visibility="hidden")],
}
DOUBLE_OK = "def double(x):\n    return 2 * x\n"
DOUBLE_WRONG = "def double(x):\n    return x + 2\n"


@pytest.fixture(scope="module")
def rt(who):
    """rt-io loaded, one graded submission of alice's, one of bob's."""
    put_ok(who.admin, "rt-io", RT_IO)
    a = submit_ok(who.alice, "rt-io", DOUBLE_OK)
    b = submit_ok(who.bob, "rt-io", DOUBLE_WRONG)
    res = wait_graded(who.admin, [a, b])
    return {"alice_sub": a, "bob_sub": b, "results": res}


# ---------------------------------------------------- 1. routes and roles

ROLES = ["admin", "client", "student", "anon", "bogus"]

# route -> expected status for admin, client, student; anon and bogus are 401.
EXPECT = {
    "list": (200, 200, 200),
    "get": (200, 200, 200),
    "put": ((200, 201), 403, 403),
    "delete": (204, 403, 403),
    "regrade": (202, 403, 403),
    "submit": (202, 202, 202),
    "result": (200, 200, 200),
    "submissions": (200, 403, 200),
    "gradebook": (200, 403, 403),
    "tokens": (201, 403, 403),
}


def _call(route, api, who, rt, slug):
    if route == "list":
        return api.get("/assignments")
    if route == "get":
        return api.get("/assignments/rt-io")
    if route == "put":
        return put(api, slug, RT_IO)
    if route == "delete":
        return api.request("DELETE", "/assignments/" + slug)
    if route == "regrade":
        return api.post("/assignments/rt-io/regrade")
    if route == "submit":
        return submit(api, "rt-io", DOUBLE_OK, "alice")
    if route == "result":
        return api.get("/results/" + rt["alice_sub"])
    if route == "submissions":
        return api.get("/submissions")
    if route == "gradebook":
        return api.get("/gradebook")
    if route == "tokens":
        return api.post("/tokens", {"role": "student", "student_id": "mallory"})
    raise AssertionError(route)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", list(EXPECT))
def test_route_role_matrix(who, rt, route, role):
    api = {"admin": who.admin, "client": who.client, "student": who.alice,
           "anon": who.anon, "bogus": who.bogus}[role]
    slug = "rr-%s-%s" % (route, role)
    if route == "delete":
        put_ok(who.admin, slug, RT_IO)
    subs_before = who.st.redis("ZCARD", "evald:subs")
    tokens_before = len(who.st.redis("KEYS", "evald:token:*") or [])

    r = _call(route, api, who, rt, slug)

    if role in ("anon", "bogus"):
        want = 401
    else:
        want = EXPECT[route][["admin", "client", "student"].index(role)]
    wants = want if isinstance(want, tuple) else (want,)
    if 200 <= wants[0] < 300:
        assert r.status_code in wants, "%s as %s -> %d %s" % (route, role, r.status_code,
                                                               r.text[:400])
    else:
        Api.error(r, want, "unauthorized" if want == 401 else "forbidden")

    # What a refused request must not have done, what an accepted one did.
    ok = 200 <= r.status_code < 300
    if route == "put":
        got = who.admin.get("/assignments/" + slug)
        assert got.status_code == (200 if ok else 404), got.text
        if ok:
            assert who.admin.request("DELETE", "/assignments/" + slug).status_code == 204
    elif route == "delete":
        got = who.admin.get("/assignments/" + slug)
        assert got.status_code == (404 if ok else 200), got.text
        if not ok:
            assert who.admin.request("DELETE", "/assignments/" + slug).status_code == 204
    elif route == "submit":
        assert who.st.redis("ZCARD", "evald:subs") == subs_before + (1 if ok else 0)
        if ok:
            body = r.json()
            assert body["status"] == "queued" and body["late"] is False, body
            got = who.admin.get("/results/" + body["submission_id"]).json()
            assert got["student_id"] == "alice" and got["assignment"] == "rt-io", got
    elif route == "tokens":
        after = len(who.st.redis("KEYS", "evald:token:*") or [])
        assert after == tokens_before + (1 if ok else 0)
    elif route == "list" and ok:
        assert any(a["slug"] == "rt-io" for a in r.json()), r.text
    elif route == "get" and ok:
        assert r.json()["slug"] == "rt-io"
    elif route == "result" and ok:
        assert r.json()["submission_id"] == rt["alice_sub"]
    elif route == "regrade" and ok:
        assert isinstance(r.json()["queued"], int) and r.json()["queued"] >= 2, r.text


@pytest.mark.parametrize("auth", [None, "Bearer " + BOGUS_TOKEN, "Bearer ", "bearer",
                                  "Basic YWRtaW46YWRtaW4=", "Bearer " + "x" * 5000])
def test_grading_routes_are_never_anonymous(who, rt, auth):
    """The shared configuration allows anonymous REPL use on loopback; the
    grading routes still need a valid token."""
    headers = {"Authorization": auth} if auth is not None else {}
    for method, path, body in [
            ("GET", "/assignments", None),
            ("GET", "/assignments/rt-io", None),
            ("GET", "/results/" + rt["alice_sub"], None),
            ("GET", "/submissions", None),
            ("GET", "/gradebook", None),
            ("POST", "/submit", {"assignment": "rt-io", "source": DOUBLE_OK,
                                 "student_id": "alice"}),
            ("POST", "/tokens", {"role": "admin"}),
            ("PUT", "/assignments/rt-anon", dict(RT_IO)),
            ("DELETE", "/assignments/rt-io", None),
            ("POST", "/assignments/rt-io/regrade", None)]:
        r = who.anon.request(method, path, json=body, headers=headers)
        Api.error(r, 401, "unauthorized")
    assert who.admin.get("/assignments/rt-io").status_code == 200
    assert who.admin.get("/assignments/rt-anon").status_code == 404


def test_student_cannot_read_another_students_work(who, rt):
    Api.error(who.bob.get("/results/" + rt["alice_sub"]), 403, "forbidden")
    Api.error(who.alice.get("/results/" + rt["bob_sub"]), 403, "forbidden")
    Api.error(who.bob.get("/submissions", params={"student_id": "alice"}), 403, "forbidden")
    mine = who.bob.get("/submissions").json()
    assert mine and all(s["student_id"] == "bob" for s in mine), mine
    assert rt["alice_sub"] not in {s["submission_id"] for s in mine}
    # The owner, any client and the admin may.
    for api in (who.alice, who.client, who.admin):
        r = api.get("/results/" + rt["alice_sub"])
        assert r.status_code == 200 and r.json()["student_id"] == "alice", r.text


def test_unknown_and_malformed_ids_are_404(who, rt):
    for api in (who.admin, who.client, who.alice):
        Api.error(api.get("/assignments/no-such-assignment"), 404, "not_found")
        Api.error(api.get("/results/" + UNKNOWN_ID), 404, "not_found")
        Api.error(api.get("/results/not-a-submission-id"), 404, "not_found")
        Api.error(api.get("/results/" + rt["alice_sub"].upper()[:-1] + "Z"), 404, "not_found")
        Api.error(submit(api, "no-such-assignment", DOUBLE_OK, "alice"), 404, "not_found")
    Api.error(who.admin.request("DELETE", "/assignments/no-such-assignment"), 404, "not_found")
    Api.error(who.admin.post("/assignments/no-such-assignment/regrade"), 404, "not_found")
    Api.error(who.admin.get("/assignments/BAD%20SLUG!"), 404, "not_found")


def test_wrong_method_is_405(who):
    Api.error(who.admin.post("/assignments", {}), 405, "method_not_allowed")
    Api.error(who.admin.get("/submit"), 405, "method_not_allowed")
    Api.error(who.admin.request("PATCH", "/assignments/rt-io", json={}), 405,
              "method_not_allowed")
    Api.error(who.admin.get("/assignments/rt-io/regrade"), 405, "method_not_allowed")


def test_result_shape(who, rt):
    res = rt["results"][rt["alice_sub"]]
    assert RESULT_KEYS <= set(res), res
    assert res["submission_id"] == rt["alice_sub"] and res["assignment"] == "rt-io"
    assert res["student_id"] == "alice" and res["status"] == "done", res
    assert res["score"] == 2 and res["max_points"] == 2 and res["late"] is False, res
    assert RFC3339.match(res["created_at"]) and RFC3339.match(res["graded_at"]), res
    assert res["created_at"] <= res["graded_at"]
    assert isinstance(res["feedback"], str) and res["feedback"], res
    assert [t["name"] for t in res["tests"]] == ["double 2", "double 5"], res
    for t in res["tests"]:
        assert ROW_KEYS <= set(t), t
        assert t["status"] == "passed" and t["points"] == t["max_points"] == 1, t
        assert t["message"] == "", t          # a passed row's message is ""
    bob = rt["results"][rt["bob_sub"]]
    assert bob["status"] == "done" and bob["score"] == 1, bob
    rows = rows_by_name(bob)
    assert rows["double 2"]["status"] == "passed"
    assert rows["double 5"]["status"] == "failed" and rows["double 5"]["points"] == 0
    assert rows["double 5"]["message"], rows


def test_submit_validation(who, rt):
    st = who.st
    before = st.redis("ZCARD", "evald:subs")
    # a client or an admin must name the student
    Api.error(submit(who.client, "rt-io", DOUBLE_OK), 422, "validation_error", "student_id")
    Api.error(submit(who.admin, "rt-io", DOUBLE_OK), 422, "validation_error", "student_id")
    # a student submits only as themselves
    Api.error(submit(who.alice, "rt-io", DOUBLE_OK, "bob"), 403, "forbidden")
    Api.error(who.alice.post("/submit", {"source": DOUBLE_OK}), 422, "validation_error",
              "assignment")
    Api.error(who.alice.post("/submit", {"assignment": "rt-io"}), 422, "validation_error",
              "source")
    Api.error(who.alice.post("/submit", {"assignment": "rt-io", "source": 42}), 422,
              "validation_error", "source")
    Api.error(submit(who.alice, "rt-io", DOUBLE_OK, language="java"), 422,
              "validation_error", "language")
    too_big = "# " + "x" * OVERRIDES["submission_max_bytes"] + "\n" + DOUBLE_OK
    Api.error(submit(who.alice, "rt-io", too_big), 413, "too_large")
    Api.error(who.alice.post("/submit", data=b"{not json"), 400, "invalid_json")
    assert st.redis("ZCARD", "evald:subs") == before
    # naming oneself is allowed; so is the assignment's own language
    sid = submit_ok(who.alice, "rt-io", DOUBLE_OK, "alice")
    r = submit(who.alice, "rt-io", DOUBLE_OK, language="python")
    assert r.status_code == 202, r.text
    res = wait_graded(who.alice, [sid, r.json()["submission_id"]])
    assert all(x["student_id"] == "alice" and x["score"] == 2 for x in res.values()), res


def test_client_submits_for_a_student(who, rt):
    sid = submit_ok(who.client, "rt-io", DOUBLE_WRONG, "carol")
    res = wait_one(who.client, sid)
    assert res["student_id"] == "carol" and res["status"] == "done" and res["score"] == 1
    # the submission is carol's: listed under her name
    rows = who.admin.get("/submissions", params={"student_id": "carol"}).json()
    assert [s["submission_id"] for s in rows] == [sid], rows


def test_submissions_listing(who, rt):
    ids = []
    for _ in range(3):
        ids.append(submit_ok(who.bob, "rt-io", DOUBLE_OK))
        time.sleep(0.02)
    wait_graded(who.bob, ids)
    mine = who.bob.get("/submissions", params={"assignment": "rt-io"}).json()
    got = [s["submission_id"] for s in mine]
    assert got[:3] == ids[::-1], (got, ids)      # newest first
    created = [s["created_at"] for s in mine]
    assert created == sorted(created, reverse=True), created
    assert all(s["student_id"] == "bob" and s["assignment"] == "rt-io" for s in mine)
    row = mine[0]
    assert {"submission_id", "assignment", "student_id", "status", "score", "max_points",
            "late", "created_at", "graded_at"} <= set(row), row
    assert row["status"] == "done" and row["score"] == 2 and row["max_points"] == 2, row
    two = who.bob.get("/submissions", params={"limit": 2}).json()
    assert [s["submission_id"] for s in two] == ids[::-1][:2], two
    everyone = who.admin.get("/submissions", params={"assignment": "rt-io",
                                                     "limit": 1000}).json()
    assert {"alice", "bob"} <= {s["student_id"] for s in everyone}
    assert set(ids) <= {s["submission_id"] for s in everyone}
    only_bob = who.admin.get("/submissions", params={"student_id": "bob"}).json()
    assert only_bob and all(s["student_id"] == "bob" for s in only_bob)
    for bad in ("0", "1001", "ten", "-1"):
        Api.error(who.admin.get("/submissions", params={"limit": bad}), 422,
                  "validation_error", "limit")
    Api.error(who.client.get("/submissions"), 403, "forbidden")


def test_tokens_route(who):
    r = who.admin.post("/tokens", {"role": "student", "student_id": "dave"})
    assert r.status_code == 201, r.text
    dave = Api(who.st.url, token=r.json()["token"])
    assert dave.get("/assignments").status_code == 200
    Api.error(dave.get("/gradebook"), 403, "forbidden")
    Api.error(who.admin.post("/tokens", {"role": "root"}), 422, "validation_error", "role")
    Api.error(who.admin.post("/tokens", {"role": "student"}), 422, "validation_error",
              "student_id")
    Api.error(who.admin.post("/tokens", {}), 422, "validation_error", "role")
    r = who.admin.post("/tokens", {"role": "admin"})
    assert r.status_code == 201 and r.json()["student_id"] is None, r.text
    assert Api(who.st.url, token=r.json()["token"]).get("/gradebook").status_code == 200


def test_tokens_student_id_is_ignored_for_other_roles(who):
    """docs/api.md, POST /tokens: for roles other than student, student_id
    is ignored and answered as null."""
    for role, sid in (("client", "eve"), ("admin", "eve"), ("client", "not a student id!")):
        r = who.admin.post("/tokens", {"role": role, "student_id": sid})
        assert r.status_code == 201, r.text
        assert r.json()["role"] == role and r.json()["student_id"] is None, r.text
    # the client token made for "eve" is an ordinary client: it must still
    # name the student it submits for
    Api.error(Api(who.st.url, token=r.json()["token"]).post(
        "/submit", {"assignment": "rt-io", "source": DOUBLE_OK}), 422, "validation_error",
        "student_id")


# ------------------------------------------- 2. create, replace, public view

# Hidden data that must never reach a student or a client.
CANARY_PYTEST = "CANARY-hidden-pytest-5b1e"
CANARY_IO_IN = "913377"
CANARY_IO_OUT = "913378"
CANARY_STDIN = "424242"
CANARY_STDOUT = "424243"
HIDDEN_NAMES = ["secret io", "secret stdio", "test_hidden_big", "test_hidden_neg"]

REDACT_FILES = {
    "starter.py": "def add(a, b):\n    ...  # your code here\n",
    "description.md": "# Add\n\nWrite `add(a, b)` and a program that sums stdin.\n",
    "tests/test_pub.py": (
        "# PUBLIC-SOURCE-MARK\n"
        "from submission import add\n\n\n"
        "def test_pub_add():\n"
        "    assert add(2, 2) == 4\n"),
    "tests/hidden/test_redact.py": (
        "# %s\n"
        "import pytest\n\n"
        "from submission import add\n\n\n"
        "@pytest.mark.points(4)\n"
        "def test_hidden_big():\n"
        "    assert add(10 ** 6, 1) == 1000001\n\n\n"
        "def test_hidden_neg():\n"
        "    assert add(-1, -1) == -2\n" % CANARY_PYTEST),
}


def redact_def(mode):
    return {
        "title": "Redaction",
        "language": "python",
        "max_points": 10,
        "starter": "starter.py",
        "hidden_feedback": mode,
        "limits": {"time_s": 2, "memory_mb": 128},
        "tests": [
            io_test("pub add", "add", "a=1, b=2", "3"),
            {"kind": "pytest", "file": "tests/test_pub.py", "visibility": "public"},
            io_test("secret io", "add", "a=%s, b=1" % CANARY_IO_IN, CANARY_IO_OUT, points=2,
                    visibility="hidden"),
            {"kind": "stdio", "name": "secret stdio", "stdin": CANARY_STDIN + " 1\n",
             "stdout": CANARY_STDOUT + "\n", "points": 3, "visibility": "hidden"},
            {"kind": "pytest", "file": "tests/hidden/test_redact.py"},   # hidden by default
        ],
    }


# passes: pub add, test_pub_add, secret stdio, test_hidden_neg (1+1+3+1 = 6 of 12)
REDACT_SUBMISSION = """\
import sys


def add(a, b):
    if a > 900000:
        return 0
    return a + b


if __name__ == "__main__":
    print(sum(int(t) for t in sys.stdin.read().split()))
"""


def assert_no_hidden_data(text, names_too=True):
    for secret in (CANARY_PYTEST, CANARY_IO_IN, CANARY_IO_OUT, CANARY_STDIN, CANARY_STDOUT):
        assert secret not in text, "hidden data %r leaked: %s" % (secret, text[:3000])
    if names_too:
        for name in HIDDEN_NAMES:
            assert name not in text, "hidden test name %r leaked: %s" % (name, text[:3000])


@pytest.fixture(scope="module")
def redact_loaded(who):
    r = put(who.admin, "redact", redact_def("summary"), REDACT_FILES)
    assert r.status_code == 201, r.text
    return "redact"


@pytest.fixture(scope="module")
def redact(who, redact_loaded):
    put_ok(who.admin, "redact", redact_def("summary"), REDACT_FILES)
    sid = submit_ok(who.alice, "redact", REDACT_SUBMISSION)
    res = wait_one(who.admin, sid)
    assert res["status"] == "done", res
    return sid


def test_put_creates_then_replaces(who):
    definition = dict(RT_IO, title="First title")
    r = put(who.admin, "cr-one", definition)
    assert r.status_code == 201, r.text
    assert r.json()["slug"] == "cr-one" and r.json()["title"] == "First title", r.text
    r = put(who.admin, "cr-one", dict(definition, title="Second title", max_points=7))
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "Second title", r.text
    got = who.alice.get("/assignments/cr-one").json()
    assert got["title"] == "Second title" and got["max_points"] == 7, got
    listing = {a["slug"]: a for a in who.client.get("/assignments").json()}
    assert listing["cr-one"] == {"slug": "cr-one", "title": "Second title",
                                 "language": "python", "max_points": 7, "due_at": None,
                                 "hidden_feedback": definition.get("hidden_feedback", "summary")}
    slugs = [a["slug"] for a in who.alice.get("/assignments").json()]
    assert slugs == sorted(slugs), slugs
    # the answer of PUT is the public view, as a student reads it
    assert r.json() == got, (r.json(), got)
    # a slug in the body must be the path's
    Api.error(put(who.admin, "cr-one", dict(definition, slug="cr-two")), 422,
              "validation_error", "slug")
    assert who.admin.get("/assignments/cr-two").status_code == 404


def test_public_view_hides_hidden_tests(who, redact_loaded):
    for api in (who.alice, who.client):
        r = api.get("/assignments/redact")
        assert r.status_code == 200, r.text
        assert_no_hidden_data(r.text)
        view = r.json()
        assert view["slug"] == "redact" and view["title"] == "Redaction"
        assert view["description"].startswith("# Add"), view   # from description.md
        assert view["starter"] == {"name": "starter.py",
                                   "content": REDACT_FILES["starter.py"]}, view
        assert view["hidden_feedback"] == "summary" and view["max_points"] == 10
        assert view["limits"]["time_s"] == 2 and view["limits"]["memory_mb"] == 128
        # hidden tests: one io, one stdio, two pytest functions (4 + 1 points)
        assert view["hidden"] == {"count": 4, "points": 10}, view["hidden"]
        # public tests in full, the public pytest file with its source
        assert len(view["tests"]) == 2, view["tests"]
        io = [t for t in view["tests"] if t["kind"] == "io"][0]
        assert io["name"] == "pub add" and io["input"] == "a=1, b=2" and io["output"] == "3"
        assert io["entry_point"] == "add" and io["points"] == 1 and io["visibility"] == "public"
        assert "PUBLIC-SOURCE-MARK" in r.text
        assert all(t["visibility"] == "public" for t in view["tests"])


def test_put_answers_the_public_view(who):
    """docs/api.md, PUT /assignments/{slug}: the body of the 201 or 200 is
    the public view, what a student sees: no hidden test data."""
    r = put(who.admin, "redact-put", redact_def("summary"), REDACT_FILES)
    assert r.status_code == 201, r.text
    assert_no_hidden_data(r.text)
    view = r.json()
    assert view["hidden"] == {"count": 4, "points": 10}, view
    assert "files" not in view and "updated_at" not in view, view
    assert view == who.alice.get("/assignments/redact-put").json()
    r = put(who.admin, "redact-put", redact_def("names"), REDACT_FILES)
    assert r.status_code == 200, r.text
    assert_no_hidden_data(r.text)
    assert r.json()["hidden_feedback"] == "names", r.text


def test_public_pytest_entry_has_its_source(who, redact_loaded):
    """docs/api.md, GET /assignments/{slug}: "a public pytest entry also has
    `source`, the file's text, so students can run it"."""
    for api in (who.alice, who.client):
        view = api.get("/assignments/redact").json()
        entry = [t for t in view["tests"] if t["kind"] == "pytest"][0]
        assert entry["file"] == "tests/test_pub.py", entry
        assert entry.get("source") == REDACT_FILES["tests/test_pub.py"], entry
        assert "content" not in entry, entry


def test_hidden_test_source_reaches_the_admin_only(who, redact_loaded):
    """docs/api.md, GET /assignments/{slug}: hidden test source never reaches
    a student or a client; the admin (the teacher who uploaded it) gets the
    whole stored definition, hidden pytest sources included, as `evalctl
    assignment show` prints it."""
    for api in (who.alice, who.client):
        r = api.get("/assignments/redact")
        assert r.status_code == 200, r.text
        assert_no_hidden_data(r.text)
        assert "files" not in r.json() and "updated_at" not in r.json(), r.json()
    r = who.admin.get("/assignments/redact")
    assert r.status_code == 200, r.text
    view = r.json()
    assert "hidden" not in view, view
    assert isinstance(view["updated_at"], int), view
    assert len(view["tests"]) == 5, view["tests"]          # every test, in full
    secret = [t for t in view["tests"] if t.get("name") == "secret io"][0]
    assert secret["input"] == "a=%s, b=1" % CANARY_IO_IN, secret
    assert secret["output"] == CANARY_IO_OUT, secret
    stdio = [t for t in view["tests"] if t.get("name") == "secret stdio"][0]
    assert stdio["stdin"] == CANARY_STDIN + " 1\n", stdio
    hidden_py = [t for t in view["tests"] if t.get("file") == "tests/hidden/test_redact.py"][0]
    assert hidden_py["visibility"] == "hidden", hidden_py
    assert hidden_py["source"] == REDACT_FILES["tests/hidden/test_redact.py"], hidden_py
    show = who.st.evalctl("assignment", "show", "redact")
    assert show.returncode == 0 and CANARY_PYTEST in show.stdout, show.stderr


def test_delete_assignment(who):
    put_ok(who.admin, "del-me", RT_IO)
    sid = submit_ok(who.alice, "del-me", DOUBLE_OK)
    wait_one(who.alice, sid)
    r = who.admin.request("DELETE", "/assignments/del-me")
    assert r.status_code == 204 and r.content == b"", (r.status_code, r.text)
    for api in (who.admin, who.client, who.alice):
        Api.error(api.get("/assignments/del-me"), 404, "not_found")
        assert "del-me" not in [a["slug"] for a in api.get("/assignments").json()]
    Api.error(who.admin.request("DELETE", "/assignments/del-me"), 404, "not_found")
    Api.error(submit(who.alice, "del-me", DOUBLE_OK), 404, "not_found")
    Api.error(who.admin.post("/assignments/del-me/regrade"), 404, "not_found")
    assert "del-me" not in who.admin.get("/gradebook").json()["assignments"]
    # what was submitted stays readable
    r = who.alice.get("/results/" + sid)
    assert r.status_code == 200 and r.json()["assignment"] == "del-me", r.text
    assert sid in [s["submission_id"] for s in who.alice.get("/submissions").json()]


# ------------------------------------------------------ 6. redaction modes

def _student_view_checks(res, mode):
    assert res["status"] == "done" and res["score"] == 5 and res["max_points"] == 10, res
    # every non-admin view carries the hidden totals
    assert res["hidden"] == {"count": 4, "passed": 2, "points": 4, "max_points": 10}, res
    public = [t for t in res["tests"] if t["visibility"] == "public"]
    hidden = [t for t in res["tests"] if t["visibility"] == "hidden"]
    assert sorted(t["name"] for t in public) == ["pub add", "tests/test_pub.py::test_pub_add"]
    assert all(t["status"] == "passed" for t in public), public
    assert all(t["message"] == "" for t in public), public
    if mode == "summary":
        assert hidden == [], hidden
    else:
        got = {t["name"]: t for t in hidden}
        assert set(got) == {"secret io", "secret stdio",
                            "tests/hidden/test_redact.py::test_hidden_big",
                            "tests/hidden/test_redact.py::test_hidden_neg"}, got
        assert got["secret io"]["status"] != "passed" and got["secret io"]["points"] == 0
        assert got["secret stdio"]["status"] == "passed" and got["secret stdio"]["points"] == 3
        big = got["tests/hidden/test_redact.py::test_hidden_big"]
        assert big["status"] == "failed" and big["max_points"] == 4 and big["points"] == 0
        assert got["tests/hidden/test_redact.py::test_hidden_neg"]["status"] == "passed"
        for t in hidden:
            assert ROW_KEYS <= set(t), t
            if mode == "names":
                assert t["message"] is None, t        # passed or not
            elif t["status"] == "passed":
                assert t["message"] == "", t
        if mode == "full":
            assert got["secret io"]["message"], got["secret io"]
            assert big["message"], big


@pytest.mark.parametrize("mode", ["summary", "names", "full"])
def test_redaction_modes(who, redact, mode):
    r = put(who.admin, "redact", redact_def(mode), REDACT_FILES)
    assert r.status_code == 200, r.text
    for api in (who.alice, who.client):
        r = api.get("/results/" + redact)
        assert r.status_code == 200, r.text
        if mode == "summary":
            assert_no_hidden_data(r.text)
        elif mode == "names":
            assert_no_hidden_data(r.text, names_too=False)
        _student_view_checks(r.json(), mode)
    # admin: every row, with its message, whatever the mode
    res = who.admin.get("/results/" + redact).json()
    assert res["score"] == 5, res
    assert len(res["tests"]) == 6, res["tests"]
    failed = [t for t in res["tests"] if t["status"] != "passed"]
    assert {t["name"] for t in failed} == {
        "secret io", "tests/hidden/test_redact.py::test_hidden_big"}, failed
    assert all(t["message"] for t in failed), failed
    assert CANARY_IO_OUT in rows_by_name(res)["secret io"]["message"], res


# ------------------------------------------------ 3. bad assignment files

GOOD_FILES = {
    "starter.py": "def sq(x):\n    ...\n",
    "tests/test_sq.py": "from submission import sq\n\n\ndef test_sq():\n    assert sq(3) == 9\n",
}


def good_def():
    return {
        "title": "Squares",
        "max_points": 4,
        "starter": "starter.py",
        "limits": {"time_s": 2},
        "tests": [
            {"kind": "pytest", "file": "tests/test_sq.py", "visibility": "public"},
            io_test("sq 2", "sq", "2", "4"),
            {"kind": "stdio", "name": "prints", "stdin": "", "stdout": "9\n", "compare": "trim"},
        ],
    }


def _bad(mutate):
    d = good_def()
    mutate(d)
    return d


# name -> (definition, words the detail must contain)
BAD_DEFS = {
    "missing-file": (_bad(lambda d: d["tests"][0].update(file="tests/x.py")),
                     ["tests[0]", "tests/x.py"]),
    "unknown-kind": (_bad(lambda d: d["tests"][1].update(kind="foo")), ["tests[1]", "foo"]),
    "sql-kind": (_bad(lambda d: d["tests"][1].update(kind="sql")), ["tests[1]", "sql"]),
    "points-not-number": (_bad(lambda d: d["tests"][1].update(points="two")),
                          ["tests[1]", "points"]),
    "max-points-not-number": (_bad(lambda d: d.update(max_points="10")), ["max_points"]),
    "max-points-zero": (_bad(lambda d: d.update(max_points=0)), ["max_points"]),
    "unknown-field": (_bad(lambda d: d.update(hiden_feedback="full")), ["hiden_feedback"]),
    "unknown-test-field": (_bad(lambda d: d["tests"][1].update(expected="4")),
                           ["tests[1]", "expected"]),
    "bad-due-at": (_bad(lambda d: d.update(due_at="next friday")), ["due_at"]),
    "bad-due-at-hour": (_bad(lambda d: d.update(due_at="2026-12-01T25:00:00Z")), ["due_at"]),
    "bad-visibility": (_bad(lambda d: d["tests"][1].update(visibility="secret")),
                       ["tests[1]", "visibility"]),
    "bad-compare": (_bad(lambda d: d["tests"][2].update(compare="fuzzy")),
                    ["tests[2]", "compare"]),
    "bad-feedback-mode": (_bad(lambda d: d.update(hidden_feedback="all")),
                          ["hidden_feedback"]),
    "no-tests": (_bad(lambda d: d.update(tests=[])), ["tests"]),
    "no-title": (_bad(lambda d: d.pop("title")), ["title"]),
    "io-no-entry-point": (_bad(lambda d: d["tests"][1].pop("entry_point")),
                          ["tests[1]", "entry_point"]),
    "escaping-path": (_bad(lambda d: d["tests"][0].update(file="../test_sq.py")),
                      ["tests[0]", "../test_sq.py"]),
    "missing-starter": (_bad(lambda d: d.update(starter="nope.py")), ["starter", "nope.py"]),
    "time-over-max": (_bad(lambda d: d.update(limits={"time_s": 100000})), ["time_s"]),
    "unknown-limit": (_bad(lambda d: d.update(limits={"cpu": 1})), ["cpu"]),
}


@pytest.mark.parametrize("case", list(BAD_DEFS))
def test_put_refuses_bad_assignment(who, case):
    definition, words = BAD_DEFS[case]
    slug = "bad-" + case
    r = put(who.admin, slug, definition, GOOD_FILES)
    body = Api.error(r, 422, "validation_error")
    for w in words:
        assert w in body["detail"], "detail %r does not name %r" % (body["detail"], w)
    Api.error(who.admin.get("/assignments/" + slug), 404, "not_found")
    assert who.st.redis("EXISTS", "evald:asg:" + slug) == 0
    assert slug not in [a["slug"] for a in who.admin.get("/assignments").json()]


def test_good_definition_is_accepted(who):
    """The base every bad case above changes one thing of is itself valid."""
    r = put(who.admin, "bad-base-is-good", good_def(), GOOD_FILES)
    assert r.status_code == 201, r.text


def test_bad_replacement_keeps_the_old_assignment(who):
    put_ok(who.admin, "keep-me", good_def(), GOOD_FILES)
    bad = _bad(lambda d: d.update(title="Changed", tests=[{"kind": "foo"}]))
    Api.error(put(who.admin, "keep-me", bad, GOOD_FILES), 422, "validation_error", "tests[0]")
    assert who.admin.get("/assignments/keep-me").json()["title"] == "Squares"


@pytest.mark.parametrize("slug", ["bad!slug", "x" * 129, "a%2Fb", "sp%20ace"])
def test_put_refuses_bad_slug(who, slug):
    r = put(who.admin, slug, good_def(), GOOD_FILES)
    Api.error(r, (404, 422), ("validation_error", "not_found"))
    if r.status_code == 422:
        assert "slug" in r.json()["detail"], r.text
    Api.error(who.admin.get("/assignments/" + slug), 404, "not_found")


def test_slugs_as_documented_are_accepted(who):
    """docs/api.md: slugs are 1 to 64 characters of lowercase letters,
    digits, '.', '_' and '-', starting with a letter or digit."""
    for slug in ("s" * 64, "0.lower_case-1", "x"):
        r = put(who.admin, slug, good_def(), GOOD_FILES)
        assert r.status_code == 201, "PUT %s -> %d %s" % (slug[:20], r.status_code, r.text)
        assert r.json()["slug"] == slug, r.text
        assert who.alice.get("/assignments/" + slug).status_code == 200
    for slug in ("Mixed_Case-1", "s" * 65, "-leading-dash", ".leading-dot", "_leading"):
        r = put(who.admin, slug, good_def(), GOOD_FILES)
        Api.error(r, 422, "validation_error", "slug")
        Api.error(who.admin.get("/assignments/" + slug), 404, "not_found")


def test_put_refuses_non_json_and_wrong_types(who):
    Api.error(who.admin.request("PUT", "/assignments/bad-json", data=b"{\"title\": "), 400,
              "invalid_json")
    Api.error(who.admin.request("PUT", "/assignments/bad-json", json=[1, 2]), 400,
              "invalid_json")
    Api.error(put(who.admin, "bad-json", dict(good_def(), tests={"a": 1}), GOOD_FILES), 422,
              "validation_error", "tests")
    Api.error(put(who.admin, "bad-json", good_def(), {"starter.py": 1}), 422,
              "validation_error", "starter.py")
    Api.error(who.admin.get("/assignments/bad-json"), 404, "not_found")


def test_put_refuses_a_file_the_definition_does_not_name(who):
    """docs/api.md, PUT /assignments/{slug}: a `files` entry that the
    definition does not name is a 422 naming it."""
    files = dict(GOOD_FILES, **{"notes/answers.py": "def sq(x):\n    return x * x\n"})
    Api.error(put(who.admin, "extra-file", good_def(), files), 422, "validation_error",
              "notes/answers.py")
    Api.error(who.admin.get("/assignments/extra-file"), 404, "not_found")


def test_put_over_assignment_max_bytes_is_413(who):
    files = dict(GOOD_FILES, **{"tests/test_sq.py": GOOD_FILES["tests/test_sq.py"] +
                                "# " + "x" * (OVERRIDES["assignment_max_bytes"] + KiB) + "\n"})
    Api.error(put(who.admin, "too-big", good_def(), files), 413, "too_large")
    Api.error(who.admin.get("/assignments/too-big"), 404, "not_found")


def _write_dir(base, name, definition, files, raw_json=None):
    d = base / name
    d.mkdir(parents=True)
    (d / "assignment.json").write_text(raw_json if raw_json is not None
                                       else json.dumps(definition, indent=2))
    for path, text in files.items():
        p = d / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return d


# name -> (definition or None, raw assignment.json text or None, words in stderr)
BAD_DIRS = {
    "ld-missing-file": (BAD_DEFS["missing-file"][0], None, ["tests/x.py"]),
    "ld-unknown-kind": (BAD_DEFS["unknown-kind"][0], None, ["assignment.json", "tests[1]",
                                                            "foo"]),
    "ld-bad-json": (None, '{"title": "Squares", "max_points": 4,, "tests": []}',
                    ["assignment.json"]),
    "ld-points-not-number": (BAD_DEFS["points-not-number"][0], None,
                             ["assignment.json", "tests[1]", "points"]),
    "ld-unknown-field": (BAD_DEFS["unknown-field"][0], None,
                         ["assignment.json", "hiden_feedback"]),
    "ld-bad-due-at": (BAD_DEFS["bad-due-at"][0], None, ["assignment.json", "due_at"]),
    "ld-files-field": (dict(good_def(), files=GOOD_FILES), None, ["assignment.json", "files"]),
    "Bad Slug!": (good_def(), None, ["slug"]),
}


@pytest.mark.parametrize("case", list(BAD_DIRS))
def test_evalctl_load_refuses_bad_directory(who, tmp_path, case):
    definition, raw, words = BAD_DIRS[case]
    d = _write_dir(tmp_path, case, definition, GOOD_FILES, raw)
    r = who.st.evalctl("assignment", "load", str(d))
    assert r.returncode != 0, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip() and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, "stderr %r does not name %r" % (r.stderr, w)
    assert r.stdout.strip() == "", r.stdout
    show = who.st.evalctl("assignment", "show", case)
    assert show.returncode != 0, show.stdout
    assert who.admin.get("/assignments/" + case.replace(" ", "%20")).status_code == 404


def test_evalctl_load_creates_then_replaces(who, tmp_path):
    d = _write_dir(tmp_path, "ld-good", good_def(), GOOD_FILES)
    r = who.st.evalctl("assignment", "load", str(d))
    assert r.returncode == 0 and r.stdout.split() == ["created", "ld-good"], (r.stdout,
                                                                               r.stderr)
    r = who.st.evalctl("assignment", "load", str(d) + "/")
    assert r.returncode == 0 and r.stdout.split() == ["replaced", "ld-good"], (r.stdout,
                                                                                r.stderr)
    view = who.alice.get("/assignments/ld-good").json()
    assert view["title"] == "Squares" and view["starter"]["content"] == GOOD_FILES["starter.py"]
    r = who.st.evalctl("assignment", "list")
    assert r.returncode == 0 and re.search(r"^ld-good\s+python\s+4\s", r.stdout, re.M), r.stdout
    r = who.st.evalctl("assignment", "show", "ld-good")
    assert r.returncode == 0 and json.loads(r.stdout)["slug"] == "ld-good", r.stdout
    r = who.st.evalctl("assignment", "delete", "ld-good")
    assert r.returncode == 0, r.stderr
    assert who.admin.get("/assignments/ld-good").status_code == 404
    assert who.st.evalctl("assignment", "delete", "ld-good").returncode != 0


# ------------------------------------- 7. gradebook, regrade, late, errors

def squares_def(title, max_points=10, n=10):
    return {"title": title, "max_points": max_points, "limits": {"time_s": 2},
            "hidden_feedback": "full",
            "tests": [io_test("sq %d" % i, "sq", str(i), str(i * i)) for i in range(n)]}


def squares_up_to(k):
    """A submission that passes exactly the first k of squares_def's tests."""
    return "def sq(x):\n    return x * x if x < %d else -1\n" % k


BROKEN_FILES = {"tests/test_broken.py": "from submission import sq\n\ndef test_sq(:\n    pass\n"}
BROKEN_DEF = {"title": "Broken tests", "max_points": 1, "limits": {"time_s": 2},
              "tests": [{"kind": "pytest", "file": "tests/test_broken.py",
                         "visibility": "public"}]}


@pytest.fixture(scope="module")
def gradebook(who):
    put_ok(who.admin, "gb-a", squares_def("Gradebook A"))
    put_ok(who.admin, "gb-b", squares_def("Gradebook B"))
    put_ok(who.admin, "gb-broken", BROKEN_DEF, BROKEN_FILES)
    s1 = Api(who.st.url, token=who.token("student", "gb-s1"))
    s2 = Api(who.st.url, token=who.token("student", "gb-s2"))
    s3 = Api(who.st.url, token=who.token("student", "gb-s3"))
    ids = {
        "s1-a-3": submit_ok(s1, "gb-a", squares_up_to(3)),
        "s1-a-8": submit_ok(s1, "gb-a", squares_up_to(8)),
        "s1-b-5": submit_ok(s1, "gb-b", squares_up_to(5)),
        "s2-b-10": submit_ok(who.client, "gb-b", squares_up_to(10), "gb-s2"),
        "s2-a-0": submit_ok(s2, "gb-a", "def sq(x):\n    return 'no'\n"),
        "s3-broken": submit_ok(s3, "gb-broken", squares_up_to(10)),
    }
    res = wait_graded(who.admin, list(ids.values()))
    wait_quiet(who.admin)
    return {k: res[v] for k, v in ids.items()}


def test_scores_of_gradebook_submissions(gradebook):
    assert [gradebook[k]["score"] for k in ("s1-a-3", "s1-a-8", "s1-b-5", "s2-b-10", "s2-a-0")] \
        == [3, 8, 5, 10, 0], {k: v["score"] for k, v in gradebook.items()}
    assert all(gradebook[k]["status"] == "done" for k in gradebook if k != "s3-broken")


def test_teacher_test_file_that_cannot_be_collected_is_a_grader_error(who, gradebook):
    res = gradebook["s3-broken"]
    assert res["status"] == "error", res
    assert res["score"] is None, res
    assert isinstance(res.get("error"), str) and "test_broken.py" in res["error"], res
    assert res["feedback"], res
    # the student sees the feedback, not a score
    mine = who.admin.get("/submissions", params={"student_id": "gb-s3"}).json()
    assert [(s["status"], s["score"]) for s in mine] == [("error", None)], mine


def test_gradebook_best_scores_and_totals(who, gradebook):
    gb = who.admin.get("/gradebook").json()
    assert set(gb) == {"assignments", "students"}, gb
    slugs = [a["slug"] for a in who.admin.get("/assignments").json()]
    assert gb["assignments"] == sorted(slugs), gb["assignments"]
    ids = [s["student_id"] for s in gb["students"]]
    assert ids == sorted(ids), ids
    by = {s["student_id"]: s for s in gb["students"]}
    s1, s2 = by["gb-s1"], by["gb-s2"]
    assert s1["scores"]["gb-a"] == 8 and s1["scores"]["gb-b"] == 5, s1
    assert s1["total"] == 13, s1
    assert s2["scores"]["gb-a"] == 0 and s2["scores"]["gb-b"] == 10 and s2["total"] == 10, s2
    # the total is the sum of the best scores, nulls counting 0
    for s in gb["students"]:
        assert s["total"] == sum(v for v in s["scores"].values() if v is not None), s


def test_gradebook_has_a_null_for_every_assignment_not_done(who, gradebook):
    """docs/api.md and grading.md: `scores` has a key for every assignment,
    null where none of the student's submissions to it is graded (done)."""
    gb = who.admin.get("/gradebook").json()
    by = {s["student_id"]: s for s in gb["students"]}
    for s in gb["students"]:
        assert set(s["scores"]) == set(gb["assignments"]), s
    assert by["gb-s1"]["scores"]["gb-broken"] is None
    assert by["gb-s2"]["scores"]["gb-broken"] is None


def test_gradebook_lists_a_student_without_a_done_submission(who, gradebook):
    """docs/api.md: `students` lists every student with at least one
    submission, whatever its status; gb-s3's only submission ended in error,
    so every score is null and the total 0."""
    gb = who.admin.get("/gradebook").json()
    by = {s["student_id"]: s for s in gb["students"]}
    assert "gb-s3" in by, gb["students"]
    s3 = by["gb-s3"]
    assert s3["scores"] == {slug: None for slug in gb["assignments"]}, s3
    assert s3["total"] == 0, s3
    csv = who.admin.get("/gradebook", params={"format": "csv"}).content.decode()
    row = [line for line in csv.split("\r\n") if line.startswith("gb-s3,")]
    assert row == ["gb-s3," + "," * len(gb["assignments"]) + "0"], (row, csv)


def test_gradebook_csv(who, gradebook):
    r = who.admin.get("/gradebook", params={"format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv"), r.headers
    gb = who.admin.get("/gradebook").json()
    text = r.content.decode()
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", ""), repr(text[:300])
    lines = text[:-2].split("\r\n")
    assert lines[0] == ",".join(["student_id"] + gb["assignments"] + ["total"]), lines[0]
    assert len(lines) == 1 + len(gb["students"]), lines
    rows = {line.split(",")[0]: line.split(",") for line in lines[1:]}
    col = {slug: i + 1 for i, slug in enumerate(gb["assignments"])}
    s1 = rows["gb-s1"]
    assert len(s1) == len(gb["assignments"]) + 2, s1
    assert s1[col["gb-a"]] == "8" and s1[col["gb-b"]] == "5" and s1[-1] == "13", s1
    assert s1[col["gb-broken"]] == "", s1      # null is an empty cell
    assert rows["gb-s2"][col["gb-b"]] == "10" and rows["gb-s2"][-1] == "10", rows["gb-s2"]
    Api.error(who.admin.get("/gradebook", params={"format": "xml"}), 422, "validation_error",
              "format")
    assert who.admin.get("/gradebook", params={"format": "json"}).json() == gb


def test_assignments_and_submissions_stored_before_generations_still_count(who):
    """Data written before assignments had a generation (no evald:asggen
    entry, no `gen` field in the submission) is one assignment with its
    submissions: they are graded, regraded, in the gradebook, and a
    student's result follows the assignment's hidden_feedback. Deleting
    it and making the slug again then starts afresh."""
    d = {"title": "Old data", "max_points": 2, "limits": {"time_s": 2},
         "hidden_feedback": "full",
         "tests": [io_test("f 1", "f", "1", "2", visibility="hidden"),
                   io_test("f 2", "f", "2", "3", visibility="hidden")]}
    put_ok(who.admin, "old-data", d)
    r = who.st.redis
    r("HDEL", "evald:asggen", "old-data")              # as stored before the upgrade
    sid = submit_ok(who.alice, "old-data", "def f(x):\n    return x + 1\n")
    assert r("HGET", "evald:sub:" + sid, "gen") == b""
    r("HDEL", "evald:sub:" + sid, "gen")
    res = wait_graded(who.admin, [sid])[sid]
    assert (res["status"], res["score"]) == ("done", 2), res
    gb = {s["student_id"]: s for s in who.admin.get("/gradebook").json()["students"]}
    assert gb["alice"]["scores"]["old-data"] == 2, gb["alice"]
    mine = who.alice.get("/results/" + sid).json()
    assert [t["message"] for t in mine["tests"]] == ["", ""], mine   # full: every row
    r2 = who.admin.post("/assignments/old-data/regrade")
    assert r2.status_code == 202 and r2.json() == {"queued": 1}, r2.text
    wait_graded(who.admin, [sid])
    # deleted and made again: another assignment, which the old submission
    # is not part of
    assert who.admin.request("DELETE", "/assignments/old-data").status_code == 204
    put_ok(who.admin, "old-data", dict(d, hidden_feedback="summary"))
    assert r("HGET", "evald:asggen", "old-data") not in (None, b"")
    r2 = who.admin.post("/assignments/old-data/regrade")
    assert r2.status_code == 202 and r2.json() == {"queued": 0}, r2.text
    gb = {s["student_id"]: s for s in who.admin.get("/gradebook").json()["students"]}
    # alice is in it only with her other assignments' submissions
    assert "alice" not in gb or gb["alice"]["scores"]["old-data"] is None, gb["alice"]
    mine = who.alice.get("/results/" + sid).json()
    # the mode it was graded under (full), not the new assignment's summary
    assert [t["message"] for t in mine["tests"]] == ["", ""], mine


def test_regrade_after_changing_tests(who):
    d = {"title": "Regrade", "max_points": 4, "limits": {"time_s": 2}, "tests": [
        io_test("f 1", "f", "1", "2", visibility="hidden"),
        io_test("f 2", "f", "2", "3", visibility="hidden")]}
    put_ok(who.admin, "rg", d)
    plus_one = submit_ok(who.client, "rg", "def f(x):\n    return x + 1\n", "rg-s1")
    double = submit_ok(who.client, "rg", "def f(x):\n    return 2 * x\n", "rg-s2")
    before = wait_graded(who.admin, [plus_one, double])
    assert before[plus_one]["score"] == 4 and before[double]["score"] == 2, before
    gb = {s["student_id"]: s for s in who.admin.get("/gradebook").json()["students"]}
    assert gb["rg-s1"]["scores"]["rg"] == 4 and gb["rg-s2"]["scores"]["rg"] == 2

    # the teacher fixes the tests: f doubles
    d["tests"][1] = io_test("f 2", "f", "2", "4", visibility="hidden")
    assert put(who.admin, "rg", d).status_code == 200
    # replacing does not regrade
    assert who.admin.get("/results/" + plus_one).json()["score"] == 4
    r = who.admin.post("/assignments/rg/regrade")
    assert r.status_code == 202 and r.json() == {"queued": 2}, r.text
    after = wait_graded(who.admin, [plus_one, double])
    assert after[plus_one]["score"] == 2 and after[double]["score"] == 4, after
    for sid in (plus_one, double):
        for k in ("submission_id", "created_at", "late", "student_id", "assignment"):
            assert after[sid][k] == before[sid][k], (k, before[sid], after[sid])
        assert after[sid]["graded_at"] >= before[sid]["graded_at"]
    gb = {s["student_id"]: s for s in who.admin.get("/gradebook").json()["students"]}
    assert gb["rg-s1"]["scores"]["rg"] == 2 and gb["rg-s2"]["scores"]["rg"] == 4, gb
    # an assignment nobody submitted to regrades nothing
    put_ok(who.admin, "rg-empty", d)
    r = who.admin.post("/assignments/rg-empty/regrade")
    assert r.status_code == 202 and r.json() == {"queued": 0}, r.text


def test_late_submissions(who):
    base = squares_def("Late", max_points=1, n=1)
    put_ok(who.admin, "late-past", dict(base, due_at="2020-01-01T00:00:00Z"))
    put_ok(who.admin, "late-future", dict(base, due_at="2099-12-31T23:59:00+02:00"))
    put_ok(who.admin, "late-none", base)
    listing = {a["slug"]: a for a in who.alice.get("/assignments").json()}
    assert listing["late-past"]["due_at"] == "2020-01-01T00:00:00Z", listing["late-past"]
    assert listing["late-none"]["due_at"] is None

    want = {"late-past": True, "late-future": False, "late-none": False}
    ids = {}
    for slug, late in want.items():
        r = submit(who.alice, slug, squares_up_to(1))
        assert r.status_code == 202 and r.json()["late"] is late, (slug, r.text)
        ids[slug] = r.json()["submission_id"]
    res = wait_graded(who.alice, list(ids.values()))
    for slug, late in want.items():
        got = res[ids[slug]]
        assert got["late"] is late and got["status"] == "done" and got["score"] == 1, got
    rows = {s["submission_id"]: s for s in who.alice.get("/submissions").json()}
    assert all(rows[ids[s]]["late"] is want[s] for s in want), rows
    # a late submission still counts in the gradebook
    gb = {s["student_id"]: s for s in who.admin.get("/gradebook").json()["students"]}
    assert gb["alice"]["scores"]["late-past"] == 1, gb["alice"]

    # late is decided when the submission is made: moving due_at into the
    # past and regrading does not change it
    put_ok(who.admin, "late-future", dict(base, due_at="2021-01-01T00:00:00Z"))
    assert who.admin.post("/assignments/late-future/regrade").status_code == 202
    again = wait_one(who.alice, ids["late-future"])
    assert again["late"] is False and again["status"] == "done", again
    r = submit(who.alice, "late-future", squares_up_to(1))
    assert r.status_code == 202 and r.json()["late"] is True, r.text


# --------------------------------------- 10. evalctl's grading commands

def test_evalctl_grade_offline_examples(who):
    """evalctl grade needs no Redis: the add-io examples graded on the host,
    as a table."""
    add_dir = EXAMPLES / "assignments" / "add-io"
    files = sorted(str(p) for p in (EXAMPLES / "submissions" / "add-io").glob("*.py"))
    r = who.st.evalctl("grade", str(add_dir), *files, timeout=180)
    assert r.returncode == 0, (r.stdout, r.stderr)
    lines = {line.split()[0]: line.split() for line in r.stdout.splitlines()[1:] if line.strip()}
    correct = str(EXAMPLES / "submissions" / "add-io" / "correct.py")
    off = str(EXAMPLES / "submissions" / "add-io" / "off_by_one.py")
    assert lines[correct][1:4] == ["5/5", "4/4", "done"], r.stdout
    assert lines[off][1:4] == ["1/5", "1/4", "done"], r.stdout
    # nothing was stored
    assert who.admin.get("/assignments/add-io").status_code == 404


def test_evalctl_grade_offline_stdio_examples_as_json(who):
    """The sum-stdin examples: correct.py reads its numbers at the top level
    and is worth 10; wrong_format.py prints both on one line and loses only
    the trim test (8)."""
    sum_dir = EXAMPLES / "assignments" / "sum-stdin"
    files = sorted(str(p) for p in (EXAMPLES / "submissions" / "sum-stdin").glob("*.py"))
    r = who.st.evalctl("grade", "--json", str(sum_dir), *files, timeout=180)
    assert r.returncode == 0, (r.stdout, r.stderr)
    out = json.loads(r.stdout)
    assert [x["file"] for x in out] == files, out
    by = {Path(x["file"]).name: x for x in out}
    assert by["correct.py"]["status"] == "done", by["correct.py"]
    assert by["correct.py"]["score"] == 10, (by["correct.py"]["feedback"], by["correct.py"])
    assert by["wrong_format.py"]["status"] == "done", by["wrong_format.py"]
    assert by["wrong_format.py"]["score"] == 8, by["wrong_format.py"]
    rows = rows_by_name(by["wrong_format.py"])
    assert rows["sample"]["status"] == "failed" and rows["sample"]["message"], rows
    assert all(rows[n]["status"] == "passed" for n in
               ("numbers on several lines", "decimals", "negative, large and exponent")), rows
    # nothing was stored
    assert who.admin.get("/assignments/sum-stdin").status_code == 404


def test_evalctl_grade_refuses_a_bad_assignment(who, tmp_path):
    d = _write_dir(tmp_path, "bad-offline", BAD_DEFS["unknown-kind"][0], GOOD_FILES)
    sub = tmp_path / "s.py"
    sub.write_text("def sq(x):\n    return x * x\n")
    r = who.st.evalctl("grade", str(d), str(sub), timeout=60)
    assert r.returncode != 0 and "foo" in r.stderr, (r.stdout, r.stderr)


def test_evalctl_submissions_and_gradebook(who, gradebook):
    wait_quiet(who.admin)
    r = who.st.evalctl("submissions", "--assignment", "gb-a")
    assert r.returncode == 0, r.stderr
    ids = {gradebook[k]["submission_id"]: k for k in ("s1-a-3", "s1-a-8", "s2-a-0")}
    lines = [l for l in r.stdout.splitlines()[1:] if l.strip()]
    assert len(lines) == 3, r.stdout
    seen = {}
    for line in lines:
        parts = line.split()
        assert parts[1] == "gb-a" and parts[3] == "done", line
        seen[ids[parts[0]]] = (parts[2], parts[4])
    assert seen == {"s1-a-3": ("gb-s1", "3/10"), "s1-a-8": ("gb-s1", "8/10"),
                    "s2-a-0": ("gb-s2", "0/10")}, seen
    # newest first
    assert [ids[l.split()[0]] for l in lines] == ["s2-a-0", "s1-a-8", "s1-a-3"], r.stdout
    r = who.st.evalctl("submissions", "--student", "gb-s2")
    assert r.returncode == 0 and len([l for l in r.stdout.splitlines()[1:] if l.strip()]) == 2

    http = who.admin.get("/gradebook", params={"format": "csv"}).content.decode()
    r = who.st.evalctl("gradebook", "--csv")
    assert r.returncode == 0, r.stderr
    # evalctl writes the same bytes (the only rows that may move are other
    # tests' submissions still being graded: none are)
    assert r.stdout.replace("\r\n", "\n") == http.replace("\r\n", "\n"), (r.stdout, http)
    r = who.st.evalctl("gradebook")
    assert r.returncode == 0 and json.loads(r.stdout) == who.admin.get("/gradebook").json()


# ------------------- 9. a queued submission whose assignment disappears

@pytest.fixture(scope="module")
def idle(stack_factory):
    s = stack_factory.start("grading-idle", executors=0, api_workers=2,
                            overrides=OVERRIDES)
    yield s
    stack_factory.stop(s)


def test_queued_submission_is_in_gradebook_as_null(idle):
    """A student whose only submission is still queued is listed, with null
    for every assignment and a total of 0."""
    admin = Api(idle.url, token=idle.admin_token)
    put_ok(admin, "q-stays", RT_IO)
    sid = submit_ok(admin, "q-stays", DOUBLE_OK, "q-student")
    time.sleep(0.5)
    res = admin.get("/results/" + sid).json()
    assert res["status"] == "queued" and res["score"] is None and res["graded_at"] is None, res
    assert res["tests"] == [], res
    gb = admin.get("/gradebook").json()
    assert "q-stays" in gb["assignments"]
    by = {s["student_id"]: s for s in gb["students"]}
    assert "q-student" in by, gb
    assert by["q-student"]["scores"] == {slug: None for slug in gb["assignments"]}, gb
    assert by["q-student"]["total"] == 0, gb


def test_deleted_before_grading_ends_in_error(idle):
    admin = Api(idle.url, token=idle.admin_token)
    put_ok(admin, "q-gone", RT_IO)
    put_ok(admin, "q-kept", RT_IO)
    gone = [submit_ok(admin, "q-gone", DOUBLE_OK, "q-s%d" % i) for i in range(3)]
    kept = submit_ok(admin, "q-kept", DOUBLE_OK, "q-s0")
    for sid in gone + [kept]:
        assert admin.get("/results/" + sid).json()["status"] == "queued"
    assert admin.request("DELETE", "/assignments/q-gone").status_code == 204
    # now an executor arrives
    idle.executors.append(None)
    idle.n_executors = len(idle.executors)
    idle.start_executor(len(idle.executors) - 1)
    res = wait_graded(admin, gone + [kept], timeout=90)
    for sid in gone:
        got = res[sid]
        assert got["status"] == "error" and got["score"] is None, got
        assert "deleted" in (got.get("error") or ""), got
        assert got["feedback"], got
    assert res[kept]["status"] == "done" and res[kept]["score"] == 2, res[kept]
    # nothing is left in the queue or half-graded
    deadline = time.monotonic() + 10
    while idle.redis("LLEN", "evald:queue") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert idle.redis("LLEN", "evald:queue") == 0
    # every submission of this stack (earlier tests' too) ends graded
    rows = admin.get("/submissions", params={"limit": 1000}).json()
    wait_graded(admin, [r["submission_id"] for r in rows], timeout=60)
    rows = admin.get("/submissions", params={"limit": 1000}).json()
    assert all(s["status"] in ("done", "error") for s in rows), rows
    assert idle.alive() == [], idle.alive()
