"""The autograder's lifecycle under concurrency and odd orderings, on a real
stack: an assignment deleted (and re-created) while its submissions wait in
the queue or are being graded, replaced or regraded while grading runs,
regraded twice at once, many submissions of one student at once, the same
slug PUT and DELETEd by concurrent requests, a student token revoked
while its submission is graded, and an executor drained mid-grading.

Every assertion is a promise of docs/grading.md or docs/api.md (the section
is named where it matters). Waits are bounded polls, never timing
assertions.

One stack for the module, started with no executor: a test that needs
submissions to stay `queued` (deterministically, not by racing a busy
executor) stops the executor, and starts it again when it wants them
graded. One executor with two slots otherwise.
"""

import concurrent.futures
import hashlib
import json
import os
import signal
import time

import pytest

from client import Api
from grading import make_token, put, put_ok, submit, submit_ok, wait_graded  # noqa: F401

OVERRIDES = {
    "case_timeout_s": 2,
    "executor_slots": 2,
    "queue_max_depth": 40,
}
QUEUE_MAX = 40

DEADLINE = 60          # seconds any one wait may take on a busy 2-core machine


# ------------------------------------------------------------------ helpers

def io_test(name, inp, out, points=1, visibility="public"):
    return {"kind": "io", "name": name, "entry_point": "f", "input": inp, "output": out,
            "points": points, "visibility": visibility}


# Two versions of one assignment, told apart by their test names and
# max_points: a result graded against one of them has exactly its rows.
VERSION_A = {
    "title": "Version A: f adds one",
    "max_points": 3,
    "limits": {"time_s": 2},
    "tests": [io_test("A1", "1", "2"), io_test("A2", "2", "3"), io_test("A3", "3", "4")],
}
VERSION_B = {
    "title": "Version B: f multiplies by ten",
    "max_points": 7,
    "limits": {"time_s": 2},
    "tests": [io_test("B1", "1", "10"), io_test("B2", "2", "20")],
}
VERSIONS = {"A": VERSION_A, "B": VERSION_B}

PLUS_ONE = "def f(x):\n    return x + 1\n"          # A: 3 of 3, B: 0 of 7
TIMES_TEN = "def f(x):\n    return 10 * x\n"        # A: 0 of 3, B: 7 of 7
# Each call sleeps, so that grading one submission takes a few seconds and
# the others wait behind it (two slots).
SLOW_PLUS_ONE = "import time\n\ndef f(x):\n    time.sleep(0.6)\n    return x + 1\n"


def version_of(res):
    """'A' or 'B': the one version the result was graded against, checked
    whole (rows, max_points, score); fails on a mix or anything else."""
    names = [t["name"] for t in res["tests"]]
    for v, d in VERSIONS.items():
        if names == [t["name"] for t in d["tests"]]:
            assert res["max_points"] == d["max_points"], ("rows of %s, max_points of another"
                                                          % v, res)
            earned = sum(t["points"] for t in res["tests"])
            total = sum(t["max_points"] for t in res["tests"])
            want = int(d["max_points"] * earned / total + 0.5)
            assert res["score"] == want, ("score does not follow the rows", res)
            return v
    raise AssertionError("the result is not graded against one version: %s"
                         % json.dumps(res)[:1500])


def expected_score(version, source):
    return {("A", PLUS_ONE): 3, ("A", SLOW_PLUS_ONE): 3, ("A", TIMES_TEN): 0,
            ("B", PLUS_ONE): 0, ("B", SLOW_PLUS_ONE): 0, ("B", TIMES_TEN): 7}[(version, source)]


def status_of(api, sid):
    r = api.get("/results/" + sid)
    assert r.status_code == 200, (sid, r.status_code, r.text)
    return r.json()["status"]


def wait_status(api, sid, wanted, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    while True:
        s = status_of(api, sid)
        if s in wanted:
            return s
        assert time.monotonic() < deadline, "%s still %s after %d s" % (sid, s, timeout)
        time.sleep(0.1)


def wait_queue_drained(st, timeout=DEADLINE):
    """Waits until no grading job is queued or held by a slot (stale jobs of
    a regrade included), so that nothing can still write a result."""
    deadline = time.monotonic() + timeout
    while True:
        procs = st.redis("KEYS", "evald:proc:*") or []
        held = sum(st.redis("LLEN", k) for k in procs)
        if st.redis("LLEN", "evald:queue") == 0 and held == 0:
            return
        assert time.monotonic() < deadline, "the queue is not drained after %d s" % timeout
        time.sleep(0.2)


def gradebook_row(admin, student):
    gb = admin.get("/gradebook").json()
    by = {s["student_id"]: s for s in gb["students"]}
    return gb, by.get(student)


# ------------------------------------------------------------------ fixtures

class Stack:
    pass


@pytest.fixture(scope="module")
def races(stack_factory):
    st = stack_factory.start("grading-races", executors=0, api_workers=8, overrides=OVERRIDES)
    assert st.admin_token, "evalctl made no admin token: %s" % st.admin_token_error
    st.executors = [None]
    st.n_executors = 1
    w = Stack()
    w.st = st
    w.admin = Api(st.url, token=st.admin_token, redis=st.redis)

    def token(role, student_id=None):
        return make_token(w.admin, role, student_id)

    def executor_on():
        if not st.executor_alive(0):
            st.start_executor(0)

    def executor_off():
        st.kill_executor(0, signal.SIGTERM)

    w.token = token
    w.client_token = token("client")
    w.client = Api(st.url, token=w.client_token, redis=st.redis)
    w.executor_on = executor_on
    w.executor_off = executor_off
    yield w
    stack_factory.stop(st)


@pytest.fixture
def running(races):
    """The stack with its executor running."""
    races.executor_on()
    return races


@pytest.fixture
def held(races):
    """The stack with no executor: what is submitted stays queued until the
    test calls races.executor_on()."""
    races.executor_off()
    yield races
    races.executor_on()


# ---------------------------------------- 1. DELETE while queued or grading

def test_delete_while_queued_ends_in_error_and_leaves_no_trace_in_gradebook(held):
    """api.md, DELETE /assignments/{slug}: submissions still queued end with
    status error (`the assignment was deleted before the submission was
    graded`); they stay listed; the assignment leaves the gradebook, and a
    student whose only submissions were to it is no longer listed there."""
    w, admin = held, held.admin
    put_ok(admin, "dq-gone", VERSION_A)
    put_ok(admin, "dq-kept", VERSION_A)
    gone = [submit_ok(w.client, "dq-gone", PLUS_ONE, "dq-only") for _ in range(3)]
    gone.append(submit_ok(w.client, "dq-gone", PLUS_ONE, "dq-both"))
    kept = submit_ok(w.client, "dq-kept", PLUS_ONE, "dq-both")
    assert [status_of(admin, s) for s in gone + [kept]] == ["queued"] * 5
    r = admin.request("DELETE", "/assignments/dq-gone")
    assert r.status_code == 204, r.text

    w.executor_on()
    res = wait_graded(admin, gone + [kept], timeout=DEADLINE)
    for sid in gone:
        got = res[sid]
        assert got["status"] == "error" and got["score"] is None, got
        assert "deleted" in (got.get("error") or ""), got
    assert res[kept]["status"] == "done" and res[kept]["score"] == 3, res[kept]

    listed = admin.get("/submissions", params={"assignment": "dq-gone", "limit": 1000}).json()
    assert sorted(s["submission_id"] for s in listed) == sorted(gone), listed
    assert all(s["status"] == "error" for s in listed), listed
    gb, only = gradebook_row(admin, "dq-only")
    assert "dq-gone" not in gb["assignments"], gb
    assert only is None, ("a student whose only submissions were to a deleted assignment "
                          "is still in the gradebook", only)
    _, both = gradebook_row(admin, "dq-both")
    assert both is not None and both["scores"]["dq-kept"] == 3 and both["total"] == 3, both
    assert "dq-gone" not in both["scores"], both


def test_delete_while_grading(running):
    """A submission being graded when its assignment is deleted ends done
    (graded against the assignment it started with) or error (`deleted`),
    never stuck; those still queued end in error."""
    w, admin = running, running.admin
    put_ok(admin, "dg", VERSION_A)
    ids = [submit_ok(w.client, "dg", SLOW_PLUS_ONE, "dg-s%d" % i) for i in range(4)]
    wait_status(admin, ids[0], ("grading", "done"))
    queued_at_delete = set()
    r = admin.request("DELETE", "/assignments/dg")
    assert r.status_code == 204, r.text
    for sid in ids:
        if status_of(admin, sid) == "queued":
            queued_at_delete.add(sid)
    res = wait_graded(admin, ids, timeout=DEADLINE)
    for sid, got in res.items():
        if got["status"] == "done":
            assert sid not in queued_at_delete, ("graded though still queued when its "
                                                 "assignment was deleted", got)
            assert version_of(got) == "A" and got["score"] == 3, got
        else:
            assert got["status"] == "error" and got["score"] is None, got
            assert "deleted" in (got.get("error") or ""), got
    listed = admin.get("/submissions", params={"assignment": "dg", "limit": 1000}).json()
    assert sorted(s["submission_id"] for s in listed) == sorted(ids), listed
    assert "dg" not in admin.get("/gradebook").json()["assignments"]
    # nothing of it stays in the queue
    wait_queue_drained(w.st)


# ----------------------- 2. the same slug deleted and re-created quickly

def test_queued_submissions_are_not_graded_against_a_recreated_assignment(held):
    """api.md, DELETE /assignments/{slug}: `those still queued end with
    status error (the assignment was deleted before the submission was
    graded)`. Re-creating the slug before an executor reaches them must not
    grade them against the new assignment's tests, nor put them in its
    gradebook column."""
    w, admin = held, held.admin
    put_ok(admin, "dr", VERSION_A)
    old = [submit_ok(w.client, "dr", PLUS_ONE, "dr-s%d" % i) for i in range(3)]
    assert admin.request("DELETE", "/assignments/dr").status_code == 204
    assert put(admin, "dr", VERSION_B).status_code == 201      # a new assignment
    assert [status_of(admin, s) for s in old] == ["queued"] * 3

    w.executor_on()
    res = wait_graded(admin, old, timeout=DEADLINE)
    wrong = {sid: (r["status"], [t["name"] for t in r["tests"]], r.get("error"))
             for sid, r in res.items()
             if not (r["status"] == "error" and "deleted" in (r.get("error") or ""))}
    assert not wrong, ("submissions queued for the deleted assignment were graded against "
                       "the re-created one: %s" % wrong)
    gb = admin.get("/gradebook").json()
    by = {s["student_id"]: s for s in gb["students"]}
    for i in range(3):
        row = by.get("dr-s%d" % i)
        assert row is None or row["scores"].get("dr") is None, (
            "a submission to the deleted assignment counts in the new one's gradebook", row)


def test_recreated_slug_starts_like_a_fresh_one(running):
    """After DELETE, a PUT of the same slug creates a new assignment (201).
    Compared with one made under a fresh slug from the same definition, it
    must not inherit the deleted one's graded submissions: the gradebook
    column is the same (no scores, api.md: the deleted assignment
    `disappears from ... the gradebook`), and a regrade queues the same
    number (0: nobody submitted to it)."""
    w, admin = running, running.admin
    put_ok(admin, "rc", VERSION_A)
    sid = submit_ok(w.client, "rc", PLUS_ONE, "rc-student")
    assert wait_graded(admin, [sid])[sid]["score"] == 3
    assert admin.request("DELETE", "/assignments/rc").status_code == 204
    _, row = gradebook_row(admin, "rc-student")
    assert row is None, row

    assert put(admin, "rc", VERSION_B).status_code == 201
    assert put(admin, "rc-fresh", VERSION_B).status_code == 201
    gb, row = gradebook_row(admin, "rc-student")
    seen = {slug: (row or {}).get("scores", {}).get(slug) for slug in ("rc", "rc-fresh")}
    assert seen == {"rc": None, "rc-fresh": None}, (
        "the re-created slug inherits the deleted assignment's scores", row)
    regraded = {slug: admin.post("/assignments/%s/regrade" % slug).json()
                for slug in ("rc-fresh", "rc")}
    assert regraded == {"rc-fresh": {"queued": 0}, "rc": {"queued": 0}}, (
        "a regrade of the re-created slug re-queues the deleted assignment's submissions",
        regraded)


def test_result_of_a_deleted_assignment_keeps_its_hidden_feedback(running):
    """api.md, GET /results/{id}: hidden rows follow the assignment's
    hidden_feedback as it is now, `or, if the assignment was deleted, as it
    was when the submission was graded`. A slug re-created in `full` mode
    must not open the deleted `summary` assignment's hidden tests (their
    expected values) to the students who were graded against them."""
    w, admin = running, running.admin
    secret = dict(VERSION_A, hidden_feedback="summary",
                  tests=[io_test("pub", "1", "2"),
                         io_test("secret", "41", "424242", visibility="hidden")])
    put_ok(admin, "hf", secret)
    student = Api(w.st.url, token=w.token("student", "hf-student"))
    sid = submit_ok(student, "hf", PLUS_ONE)
    wait_graded(admin, [sid])
    before = student.get("/results/" + sid).json()
    assert [t["name"] for t in before["tests"]] == ["pub"], before
    assert admin.request("DELETE", "/assignments/hf").status_code == 204
    after_delete = student.get("/results/" + sid).json()
    assert after_delete["tests"] == before["tests"], after_delete

    put_ok(admin, "hf", dict(VERSION_B, hidden_feedback="full"))
    after = student.get("/results/" + sid).json()
    assert "424242" not in json.dumps(after), (
        "the deleted assignment's hidden test is shown in full to the student", after)
    assert [t["name"] for t in after["tests"]] == ["pub"], after


# ----------------------------------- 3. PUT and regrade while grading runs

def test_replace_while_grading_grades_each_submission_against_one_version(running):
    """grading.md, Submissions: `A submission is graded against the
    assignment as it is at that moment`. Replacing the tests while grading
    runs gives every submission the rows, max_points and score of one
    version, never a mix; those graded before the PUT are A, those that
    had not started when it returned are B. Replacing does not regrade."""
    w, admin = running, running.admin
    put_ok(admin, "rv", VERSION_A)
    ids = [submit_ok(w.client, "rv", SLOW_PLUS_ONE, "rv-s%d" % i) for i in range(5)]
    wait_status(admin, ids[0], ("grading", "done"))
    before = {sid: status_of(admin, sid) for sid in ids}
    assert put(admin, "rv", VERSION_B).status_code == 200
    after = {sid: status_of(admin, sid) for sid in ids}
    res = wait_graded(admin, ids, timeout=DEADLINE)
    for sid in ids:
        v = version_of(res[sid])
        assert res[sid]["status"] == "done", res[sid]
        assert res[sid]["score"] == expected_score(v, SLOW_PLUS_ONE), res[sid]
        if before[sid] == "done":
            assert v == "A", (before[sid], res[sid])
        if after[sid] == "queued":
            assert v == "B", ("still queued after the PUT, graded against the old tests",
                              res[sid])
    # the PUT did not regrade the ones graded against A
    wait_queue_drained(w.st)
    again = wait_graded(admin, ids)
    assert {s: version_of(again[s]) for s in ids} == {s: version_of(res[s]) for s in ids}


def test_regrade_during_grading_and_twice_in_a_row(running):
    """api.md, POST /assignments/{slug}/regrade: every submission goes back
    to queued and is graded again against the assignment as it is now.
    Regrading while the first grading still runs, then again at once, ends
    with every submission done against the current version, each answer
    counting every submission, and no stale job overwriting a result
    afterwards."""
    w, admin = running, running.admin
    put_ok(admin, "rr", VERSION_A)
    ids = [submit_ok(w.client, "rr", SLOW_PLUS_ONE, "rr-s%d" % (i % 2)) for i in range(4)]
    wait_status(admin, ids[0], ("grading", "done"))
    assert put(admin, "rr", VERSION_B).status_code == 200
    answers = [admin.post("/assignments/rr/regrade") for _ in range(2)]
    assert [(r.status_code, r.json()) for r in answers] == [(202, {"queued": 4})] * 2, \
        [(r.status_code, r.text) for r in answers]
    # the gradebook counts only done submissions: never an A score now
    _, row = gradebook_row(admin, "rr-s0")
    assert row is not None and row["scores"]["rr"] in (None, 0), row
    res = wait_graded(admin, ids, timeout=DEADLINE)
    for sid in ids:
        assert res[sid]["status"] == "done" and version_of(res[sid]) == "B", res[sid]
        assert res[sid]["score"] == 0, res[sid]
    wait_queue_drained(w.st)
    final = wait_graded(admin, ids)
    for sid in ids:
        assert final[sid] == res[sid], ("a stale job rewrote the result", res[sid], final[sid])
    gb, row = gradebook_row(admin, "rr-s0")
    assert row["scores"]["rr"] == 0, row
    listed = admin.get("/submissions", params={"assignment": "rr"}).json()
    assert sorted((s["status"], s["score"], s["max_points"]) for s in listed) == \
        [("done", 0, 7)] * 4, listed

    # an assignment nobody submitted to, regraded twice at once
    put_ok(admin, "rr-empty", VERSION_A)
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        got = list(ex.map(lambda _: Api(w.st.url, token=w.st.admin_token)
                          .post("/assignments/rr-empty/regrade"), range(2)))
    assert [(r.status_code, r.json()) for r in got] == [(202, {"queued": 0})] * 2


def test_concurrent_regrades(running):
    """Five regrades of one assignment at once: each answers 202 with the
    number of its submissions, and each submission ends done exactly once
    more, with the current tests; the queue drains."""
    w, admin = running, running.admin
    put_ok(admin, "rcc", VERSION_A)
    ids = [submit_ok(w.client, "rcc", PLUS_ONE, "rcc-s%d" % i) for i in range(3)]
    first = wait_graded(admin, ids, timeout=DEADLINE)
    assert all(first[s]["score"] == 3 for s in ids), first
    assert put(admin, "rcc", VERSION_B).status_code == 200
    with concurrent.futures.ThreadPoolExecutor(5) as ex:
        got = list(ex.map(lambda _: Api(w.st.url, token=w.st.admin_token)
                          .post("/assignments/rcc/regrade"), range(5)))
    assert [(r.status_code, r.json()) for r in got] == [(202, {"queued": 3})] * 5, \
        [(r.status_code, r.text) for r in got]
    res = wait_graded(admin, ids, timeout=DEADLINE)
    wait_queue_drained(w.st)
    for sid in ids:
        now = admin.get("/results/" + sid).json()
        assert now["status"] == "done" and version_of(now) == "B" and now["score"] == 0, now
        assert now == res[sid], (res[sid], now)
        for k in ("created_at", "late", "student_id"):
            assert now[k] == first[sid][k], (k, first[sid], now)


def test_regrade_keeps_the_previous_result_until_regraded(running):
    """api.md and grading.md, Regrading: while a regrade waits, each
    submission is `queued` again, keeps its previous score (`During a
    regrade the previous score stays until the new one is written`) and
    `graded_at`, and the gradebook shows null for it (`is being
    regraded`); once graded its result is replaced."""
    w, admin = running, running.admin
    put_ok(admin, "rk", VERSION_A)
    sid = submit_ok(w.client, "rk", PLUS_ONE, "rk-student")
    first = wait_graded(admin, [sid])[sid]
    assert first["status"] == "done" and first["score"] == 3, first
    wait_queue_drained(w.st)
    w.executor_off()
    try:
        assert put(admin, "rk", VERSION_B).status_code == 200
        r = admin.post("/assignments/rk/regrade")
        assert (r.status_code, r.json()) == (202, {"queued": 1}), r.text
        mid = admin.get("/results/" + sid).json()
        assert mid["status"] == "queued" and mid["score"] == 3, mid
        assert mid["graded_at"] == first["graded_at"], mid
        row = admin.get("/submissions", params={"assignment": "rk"}).json()
        assert [(x["status"], x["score"]) for x in row] == [("queued", 3)], row
        _, gb = gradebook_row(admin, "rk-student")
        assert gb is not None and gb["scores"]["rk"] is None and gb["total"] == 0, gb
    finally:
        w.executor_on()
    after = wait_graded(admin, [sid])[sid]
    assert after["status"] == "done" and version_of(after) == "B" and after["score"] == 0, after
    for k in ("submission_id", "created_at", "late", "student_id", "assignment"):
        assert after[k] == first[k], (k, first, after)
    _, gb = gradebook_row(admin, "rk-student")
    assert gb["scores"]["rk"] == 0, gb


def test_regrades_of_queued_submissions_until_the_queue_is_full(running):
    """Regrades of submissions not graded yet: each answers the number of
    submissions while the queue has room; the one that does not fit
    (queue_max_depth) is 429 busy with Retry-After and queues nothing. Once
    an executor runs, each submission is graded once, against the
    assignment as it is then, and the queue drains (the superseded jobs
    write nothing)."""
    w, admin = running, running.admin
    wait_queue_drained(w.st)
    w.executor_off()
    try:
        put_ok(admin, "qf", VERSION_A)
        ids = [submit_ok(w.client, "qf", PLUS_ONE, "qf-s%d" % i) for i in range(10)]
        assert w.st.redis("LLEN", "evald:queue") == 10
        for _ in range(3):
            r = admin.post("/assignments/qf/regrade")
            assert (r.status_code, r.json()) == (202, {"queued": 10}), r.text
        assert w.st.redis("LLEN", "evald:queue") == QUEUE_MAX
        r = admin.post("/assignments/qf/regrade")
        Api.error(r, 429, "busy")
        assert r.headers.get("Retry-After") == "1", r.headers
        assert w.st.redis("LLEN", "evald:queue") == QUEUE_MAX
        assert [status_of(admin, s) for s in ids] == ["queued"] * 10
        assert put(admin, "qf", VERSION_B).status_code == 200
    finally:
        w.executor_on()
    res = wait_graded(admin, ids, timeout=DEADLINE)
    wait_queue_drained(w.st)
    for sid in ids:
        now = admin.get("/results/" + sid).json()
        assert now == res[sid], (res[sid], now)
        assert now["status"] == "done" and version_of(now) == "B" and now["score"] == 0, now


def test_submissions_racing_a_delete(running):
    """Submissions made while the assignment is deleted: each is 202 or 404
    (never a 5xx), every 202 is listed and ends done (graded against the
    assignment) or error (`deleted`), and none made after the DELETE
    answered is accepted."""
    w, admin = running, running.admin
    wait_queue_drained(w.st)
    put_ok(admin, "sd", VERSION_A)
    stop = []

    def submitter(i):
        # at most 8 each: 32 jobs, under queue_max_depth
        api = Api(w.st.url, token=w.client_token)
        out = []
        while not stop and len(out) < 8:
            t0 = time.monotonic()
            r = submit(api, "sd", PLUS_ONE, "sd-s%d" % i)
            out.append((t0, r.status_code,
                        r.json().get("submission_id") if r.status_code == 202 else None))
            if r.status_code == 404:
                break
        return out

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        futs = [ex.submit(submitter, i) for i in range(4)]
        # let some in first
        deadline = time.monotonic() + DEADLINE
        while w.st.redis("ZCARD", "evald:subs:asg:sd") < 4:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert admin.request("DELETE", "/assignments/sd").status_code == 204
        deleted_at = time.monotonic()
        stop.append(1)
        made = [x for f in futs for x in f.result()]
    assert {code for _, code, _ in made} <= {202, 404}, made
    accepted = [sid for _, code, sid in made if code == 202]
    late = [t for t, code, _ in made if code == 202 and t > deleted_at]
    assert not late, "a submission sent after the DELETE had answered 204 was accepted"
    listed = admin.get("/submissions", params={"assignment": "sd", "limit": 1000}).json()
    assert sorted(s["submission_id"] for s in listed) == sorted(accepted), (len(listed),
                                                                            len(accepted))
    res = wait_graded(admin, accepted, timeout=DEADLINE)
    for sid, got in res.items():
        if got["status"] == "done":
            assert version_of(got) == "A" and got["score"] == 3, got
        else:
            assert got["status"] == "error" and "deleted" in (got.get("error") or ""), got


# --------------------------- 4. many submissions of one student at once

def test_twenty_concurrent_submissions_of_one_student(running):
    """grading.md: each submission is kept and graded, and the gradebook
    keeps the best score. 20 submissions at once from one student token:
    20 distinct ids, each listed exactly once by GET /submissions, each done
    with the score of its own source, and the gradebook's best and total."""
    w, admin = running, running.admin
    put_ok(admin, "many", VERSION_A)
    tok = w.token("student", "many-student")

    # source k passes k of A's three tests (its f is right for x < k + 1)
    def source(k):
        return "def f(x):\n    return x + 1 if x <= %d else -1\n" % k

    def one(k):
        api = Api(w.st.url, token=tok)
        return k, submit_ok(api, "many", source(k % 3))     # never all three

    with concurrent.futures.ThreadPoolExecutor(20) as ex:
        made = list(ex.map(one, range(20)))
    ids = [sid for _, sid in made]
    assert len(set(ids)) == 20, ids
    student = Api(w.st.url, token=tok)
    listed = student.get("/submissions", params={"limit": 1000}).json()
    assert sorted(s["submission_id"] for s in listed) == sorted(ids), listed
    # newest first
    created = [s["created_at"] for s in listed]
    assert created == sorted(created, reverse=True), created

    res = wait_graded(admin, ids, timeout=DEADLINE)
    for k, sid in made:
        got = res[sid]
        assert got["status"] == "done" and got["student_id"] == "many-student", got
        assert got["score"] == k % 3, (k, got)
    listed = admin.get("/submissions", params={"assignment": "many",
                                                "student_id": "many-student",
                                                "limit": 1000}).json()
    assert len(listed) == 20 and len({s["submission_id"] for s in listed}) == 20, listed
    assert sorted(s["score"] for s in listed) == sorted(k % 3 for k in range(20)), listed
    _, row = gradebook_row(admin, "many-student")
    assert row is not None and row["scores"]["many"] == 2, row
    assert row["total"] == sum(v for v in row["scores"].values() if v is not None), row

    # one more, the best: the gradebook follows it
    best = submit_ok(student, "many", PLUS_ONE)
    assert wait_graded(admin, [best])[best]["score"] == 3
    _, row = gradebook_row(admin, "many-student")
    assert row["scores"]["many"] == 3, row


# ----------------------------------- 5. the same slug, concurrent requests

def test_concurrent_put_and_delete_of_one_slug(running):
    """PUT: 201 when the slug was new, 200 when it replaced one; DELETE: 204,
    then 404. Eight of each at once: exactly one 201 and one 204."""
    w = running
    apis = [Api(w.st.url, token=w.st.admin_token) for _ in range(8)]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        puts = list(ex.map(lambda a: put(a, "cc", VERSION_A).status_code, apis))
    assert sorted(puts) == [200] * 7 + [201], puts
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        dels = list(ex.map(lambda a: a.request("DELETE", "/assignments/cc").status_code, apis))
    assert sorted(dels) == [204] + [404] * 7, dels
    assert w.admin.get("/assignments/cc").status_code == 404
    assert "cc" not in [a["slug"] for a in w.admin.get("/assignments").json()]


# ------------------------------------ 6. a token revoked while grading

def test_student_token_revoked_while_its_submission_is_graded(running):
    """operations.md: a token is revoked by deleting its key in Redis.
    Revoked while its submission is graded: the token is refused at once
    (401), the grading finishes (grading does not depend on the token), and
    the result and gradebook are as for any other submission."""
    w, admin = running, running.admin
    put_ok(admin, "tok", VERSION_A)
    tok = w.token("student", "tok-student")
    student = Api(w.st.url, token=tok)
    sid = submit_ok(student, "tok", SLOW_PLUS_ONE)
    wait_status(admin, sid, ("grading", "done"))
    digest = hashlib.blake2b(tok.encode(), digest_size=32).hexdigest()
    assert w.st.redis("DEL", "evald:token:" + digest) == 1
    r = student.get("/results/" + sid)
    assert r.status_code == 401, (r.status_code, r.text)
    Api.error(submit(student, "tok", PLUS_ONE), 401, "unauthorized")
    got = wait_graded(admin, [sid], timeout=DEADLINE)[sid]
    assert got["status"] == "done" and got["score"] == 3, got
    _, row = gradebook_row(admin, "tok-student")
    assert row is not None and row["scores"]["tok"] == 3, row
    listed = admin.get("/submissions", params={"student_id": "tok-student"}).json()
    assert [s["submission_id"] for s in listed] == [sid], listed


# --------------------------------- 7. an executor drained while grading

def test_executor_drained_while_grading(running):
    """operations.md, signals: SIGTERM to an executor's main process drains
    it: the slots finish the job in hand and take no more. Submissions being
    graded then end done (not error); the others stay queued, not stuck in
    grading, and are graded once an executor runs again."""
    w, admin = running, running.admin
    put_ok(admin, "dn", VERSION_A)
    ids = [submit_ok(w.client, "dn", SLOW_PLUS_ONE, "dn-s%d" % i) for i in range(4)]
    wait_status(admin, ids[0], ("grading", "done"))
    p = w.st.executors[0]
    os.kill(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + DEADLINE
    while p.alive():
        assert time.monotonic() < deadline, "the executor did not drain in %d s" % DEADLINE
        time.sleep(0.1)
    w.executor_off()            # forgets the exited process
    mid = {sid: admin.get("/results/" + sid).json() for sid in ids}
    assert {r["status"] for r in mid.values()} <= {"done", "queued"}, (
        "with no executor left, a submission is %s"
        % sorted({r["status"] for r in mid.values()}), mid)
    assert mid[ids[0]]["status"] == "done", ("the job in hand was not finished", mid[ids[0]])
    for r in mid.values():
        if r["status"] == "done":
            assert version_of(r) == "A" and r["score"] == 3, r
    w.executor_on()
    res = wait_graded(admin, ids, timeout=DEADLINE)
    for sid in ids:
        assert res[sid]["status"] == "done" and res[sid]["score"] == 3, res[sid]


# ------------------------------------------------------------ 8. the end

def test_nothing_left_pending_and_no_worker_died(running):
    """Every submission of the module ends done or error; no API worker
    died while the module ran (nginx would have hidden it behind a 502)."""
    w, admin = running, running.admin
    rows = admin.get("/submissions", params={"limit": 1000}).json()
    wait_graded(admin, [r["submission_id"] for r in rows], timeout=DEADLINE)
    log = w.st.log_path("api")
    deaths = [l for l in log.read_text(errors="replace").splitlines()
              if "worker" in l and " died" in l] if log.exists() else []
    assert deaths == [], deaths
