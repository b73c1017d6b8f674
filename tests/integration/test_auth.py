"""Authentication: a stack with `anonymous = none` requires a bearer token on
every REPL route; the admin token made by evalctl opens them."""

import uuid

import pytest

ROUTES = [
    ("POST", "/write_file", {"id": "S", "rel_path": "a.txt", "content": "x"}),
    ("GET", "/read_file", None),
    ("POST", "/delete_file", {"id": "S", "rel_path": "a.txt"}),
    ("POST", "/rename_file", {"id": "S", "old_path": "a.txt", "new_path": "b.txt"}),
    ("POST", "/fork_session", {"id": "S"}),
    ("POST", "/run", {"id": "S", "cmd": "true"}),
    ("POST", "/evaluate_code", {"id": "S", "code": "def f(x):\n    return x",
                                "entry_point": "f", "io_cases": [{"input": "1", "output": "1"}]}),
]

AUTHS = [None, "Bearer wrong-token", "Bearer ", "Basic YWRtaW46YWRtaW4=", "bearer",
         "Bearer " + "x" * 5000]


@pytest.fixture(scope="module")
def locked(stack_factory):
    st = stack_factory.start("locked", executors=0, api_workers=2,
                             overrides={"anonymous": "none"})
    yield st
    stack_factory.stop(st)


@pytest.fixture(scope="module")
def anon(locked, make_api):
    return make_api(locked)


def call(client, method, path, body, sid, auth=None):
    headers = {"Authorization": auth} if auth is not None else {}
    if body is None:
        return client.request(method, path, params={"id": sid, "rel_path": "a.txt"},
                              headers=headers)
    body = {k: (sid if v == "S" else v) for k, v in body.items()}
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("method,path,body", ROUTES, ids=[r[1] for r in ROUTES])
@pytest.mark.parametrize("auth", AUTHS, ids=lambda a: repr(a)[:16])
def test_token_required(locked, anon, method, path, body, auth):
    r = call(anon, method, path, body, str(uuid.uuid4()), auth)
    anon.error(r, 401, "unauthorized")
    assert locked.redis("KEYS", "evald:sess:*") == []


def test_admin_token_opens_the_repl_routes(locked, make_api):
    assert locked.admin_token, "evalctl made no admin token: %s" % locked.admin_token_error
    admin = make_api(locked, locked.admin_token)
    sid = str(uuid.uuid4())
    admin.write(sid, "a.txt", "x")
    assert admin.content(sid, "a.txt") == "x"
    new = admin.ok(admin.post("/fork_session", {"id": sid}))["new_id"]
    assert admin.content(new, "a.txt") == "x"
    admin.ok(admin.post("/rename_file", {"id": sid, "old_path": "a.txt", "new_path": "b.txt"}))
    admin.ok(admin.post("/delete_file", {"id": sid, "rel_path": "b.txt"}))


def test_token_is_never_logged(locked):
    assert locked.admin_token
    for name in ("api", "redis", "nginx"):
        path = locked.log_path(name)
        if path.exists():
            assert locked.admin_token not in path.read_text(errors="replace"), name


def _token(st, *args):
    r = st.evalctl("token", "add", *args)
    assert r.returncode == 0 and r.stdout.strip(), r.stderr
    return r.stdout.strip().splitlines()[-1]


def test_client_token_may_use_the_repl(locked, make_api):
    client = make_api(locked, _token(locked, "--role", "client"))
    sid = str(uuid.uuid4())
    client.write(sid, "a.txt", "x")
    assert client.content(sid, "a.txt") == "x"


@pytest.mark.parametrize("method,path,body", ROUTES, ids=[r[1] for r in ROUTES])
def test_student_token_is_forbidden(locked, make_api, method, path, body):
    student = make_api(locked, _token(locked, "--role", "student", "--student", "s1"))
    r = call(student, method, path, body, str(uuid.uuid4()))
    student.error(r, 403, "forbidden")
    assert locked.redis("KEYS", "evald:sess:*") == [] or all(
        b"s1" not in k for k in locked.redis("KEYS", "evald:sess:*"))
