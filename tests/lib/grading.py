"""Helpers of the autograder tests: assignments, submissions, results."""

import re
import time


def put(api, slug, definition, files=None):
    body = dict(definition)
    if files is not None:
        body["files"] = files
    return api.request("PUT", "/assignments/" + slug, json=body)


def put_ok(api, slug, definition, files=None):
    r = put(api, slug, definition, files)
    assert r.status_code in (200, 201), "PUT %s -> %d %s" % (slug, r.status_code, r.text[:600])
    return r.json()


def make_token(admin, role, student_id=None):
    """A new token of role (a student's with student_id), made by admin
    through POST /tokens."""
    body = {"role": role}
    if student_id is not None:
        body["student_id"] = student_id
    r = admin.post("/tokens", body)
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["role"] == role and got["student_id"] == student_id, got
    assert got["token"].startswith("evd_"), got
    return got["token"]


def submit(api, slug, source, student_id=None, **extra):
    body = {"assignment": slug, "source": source}
    if student_id is not None:
        body["student_id"] = student_id
    body.update(extra)
    return api.post("/submit", body)


def submit_ok(api, slug, source, student_id=None):
    r = submit(api, slug, source, student_id)
    assert r.status_code == 202, "submit to %s -> %d %s" % (slug, r.status_code, r.text[:600])
    body = r.json()
    assert body["status"] == "queued", body
    assert re.fullmatch(r"[0-9a-f-]{36}", body["submission_id"]), body
    return body["submission_id"]


def wait_graded(api, ids, timeout=90):
    """{id: result} once every id's status is done or error; fails when one
    is still queued or grading after timeout seconds."""
    if isinstance(ids, str):
        ids = [ids]
    pending, out, last = list(ids), {}, {}
    deadline = time.monotonic() + timeout
    while True:
        for i in list(pending):
            r = api.get("/results/" + i)
            assert r.status_code == 200, "GET /results/%s -> %d %s" % (i, r.status_code, r.text)
            body = r.json()
            last[i] = body["status"]
            assert body["status"] in ("queued", "grading", "done", "error"), body
            if body["status"] in ("done", "error"):
                out[i] = body
                pending.remove(i)
        if not pending:
            return out
        assert time.monotonic() < deadline, (
            "submissions still not graded after %d s: %s"
            % (timeout, {i: last.get(i) for i in pending}))
        time.sleep(0.25)
