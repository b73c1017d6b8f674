"""Bad input on every route: each gets its 4xx {detail, code}, the workers live
on, the stack keeps serving, and nothing in Redis changes."""

import json
import uuid

import pytest

MiB = 1024 * 1024

ROUTES_POST = ["/write_file", "/delete_file", "/rename_file", "/fork_session", "/run",
               "/evaluate_code"]


@pytest.fixture(scope="module")
def victim(api):
    """An existing session that bad requests name."""
    sid = "victim-" + uuid.uuid4().hex
    api.write(sid, "a.txt", "a")
    api.write(sid, "dir/b.txt", "b")
    return sid


@pytest.fixture(autouse=True)
def nothing_changes(stack, api, victim, snapshot):
    """Around every test: session keys and values, the API's workers and the
    components are exactly as before, and GET / still answers."""
    before = snapshot()
    workers = stack.api_worker_pids()
    yield
    assert stack.alive() == [], "components died: %s" % stack.alive()
    assert api.ping(), "GET / no longer answers after bad input"
    assert snapshot() == before, "Redis session state changed"
    assert stack.api_worker_pids() == workers, (
        "an API worker died:\n" + stack.log_tail("api", 20))


def valid_body(route, sid):
    return {
        "/write_file": {"id": sid, "rel_path": "new.txt", "content": "x"},
        "/delete_file": {"id": sid, "rel_path": "a.txt"},
        "/rename_file": {"id": sid, "old_path": "a.txt", "new_path": "c.txt"},
        "/fork_session": {"id": sid},
        "/run": {"id": sid, "cmd": "touch made-by-bad-input"},
        "/evaluate_code": {"id": sid, "code": "def f(x):\n    return x", "entry_point": "f",
                           "io_cases": [{"input": "1", "output": "1"}]},
    }[route]


# --------------------------------------------------------- malformed JSON
@pytest.mark.parametrize("route", ROUTES_POST)
@pytest.mark.parametrize("raw", [
    b"", b"{", b'{"id": ', b"{'id': 'x'}", b"not json", b'{"id": "x",}', b"\x00",
    b'{"id": "x"} trailing', b"NaN",
], ids=lambda r: repr(r)[:20])
def test_malformed_json(api, route, raw):
    r = api.post(route, data=raw, headers={"Content-Type": "application/json"})
    api.error(r, 400, "invalid_json")


@pytest.mark.parametrize("route", ROUTES_POST)
@pytest.mark.parametrize("raw", [b"[]", b'"str"', b"1", b"null", b"true", b'[{"id": "x"}]'])
def test_json_not_an_object(api, route, raw):
    r = api.post(route, data=raw, headers={"Content-Type": "application/json"})
    api.error(r, (400, 422), ("invalid_json", "validation_error"))


INVALID_UTF8 = {
    "/write_file": ("content", "\xff\xfe"),
    "/delete_file": ("rel_path", "a\xff.txt"),
    "/rename_file": ("new_path", "c\xff.txt"),
    "/fork_session": ("id", "victim\xff"),
    "/run": ("cmd", "echo \xff > made-by-bad-input"),
    "/evaluate_code": ("code", "def f(x):\n    return '\xff'"),
}


@pytest.mark.parametrize("route", ROUTES_POST)
def test_invalid_utf8_body(api, route, victim):
    # Raw bytes 0xff/0xfe inside a JSON string: not UTF-8, so not JSON.
    body = valid_body(route, victim)
    field, value = INVALID_UTF8[route]
    body[field] = value
    raw = json.dumps(body, ensure_ascii=False).encode("latin-1")
    r = api.post(route, data=raw, headers={"Content-Type": "application/json"})
    api.error(r, 400)


def test_invalid_utf8_in_path_and_overlong_encoding(api, victim):
    for bad in (b"a\xffb.txt", b"a\xc0\xafb", b"\xed\xa0\x80.txt", b"\xf8\x88\x80\x80\x80"):
        raw = b'{"id": "%s", "rel_path": "%s", "content": "x"}' % (victim.encode(), bad)
        r = api.post("/write_file", data=raw, headers={"Content-Type": "application/json"})
        api.error(r, 400)


@pytest.mark.parametrize("route", ["/write_file", "/run", "/evaluate_code"])
@pytest.mark.parametrize("shape", ["array", "object", "inside"])
def test_deeply_nested_json(api, route, shape, victim):
    n = 100000
    if shape == "array":
        raw = "[" * n + "]" * n
    elif shape == "object":
        raw = '{"a":' * n + "1" + "}" * n
    else:
        raw = json.dumps(valid_body(route, victim))[:-1] + ', "extra": ' + "[" * n + "]" * n + "}"
    r = api.post(route, data=raw.encode(), headers={"Content-Type": "application/json"})
    api.error(r, 400, "invalid_json")


# ------------------------------------------------- missing / wrong fields
FIELD_CASES = []
for _route, _fields in {
    "/write_file": {"id": 5, "rel_path": ["a"], "content": 7},
    "/delete_file": {"id": None, "rel_path": {"a": 1}},
    "/rename_file": {"id": [], "old_path": 1.5, "new_path": True},
    "/fork_session": {"id": 12},
    "/run": {"id": {}, "cmd": ["ls"], "stdin": 5, "timeout": "soon"},
    "/evaluate_code": {"id": 1, "code": 5, "entry_point": None, "io_cases": "x",
                       "language": 3, "limits": "x"},
}.items():
    for _f, _bad in _fields.items():
        FIELD_CASES.append((_route, _f, _bad))


@pytest.mark.parametrize("route,field,bad", FIELD_CASES,
                         ids=["%s-%s" % (r, f) for r, f, _ in FIELD_CASES])
def test_wrong_type_names_the_field(api, victim, route, field, bad):
    body = valid_body(route, victim)
    body[field] = bad
    r = api.post(route, json=body)
    api.error(r, 422, "validation_error", field)


REQUIRED = {
    "/write_file": ["id", "rel_path", "content"],
    "/delete_file": ["id", "rel_path"],
    "/rename_file": ["id", "old_path", "new_path"],
    "/fork_session": ["id"],
    "/run": ["id", "cmd"],
    "/evaluate_code": ["id", "code", "entry_point", "io_cases"],
}


@pytest.mark.parametrize("route,field", [(r, f) for r, fs in REQUIRED.items() for f in fs])
def test_missing_field_names_it(api, victim, route, field):
    body = valid_body(route, victim)
    del body[field]
    r = api.post(route, json=body)
    api.error(r, 422, "validation_error", field)


def test_read_file_missing_parameters(api, victim):
    api.error(api.get("/read_file", {"rel_path": "a.txt"}), 422, "validation_error", "id")
    api.error(api.get("/read_file", {"id": victim}), 422, "validation_error", "rel_path")
    api.error(api.get("/read_file"), 422, "validation_error")


def test_bad_encoding_value(api, victim):
    r = api.post("/write_file", json={"id": victim, "rel_path": "e.txt", "content": "x",
                                      "encoding": "rot13"})
    api.error(r, (400, 422), field="encoding")
    r = api.get("/read_file", {"id": victim, "rel_path": "a.txt", "encoding": "rot13"})
    api.error(r, (400, 422), field="encoding")


@pytest.mark.parametrize("query", ["id=%zz&rel_path=a.txt", "id=victim&rel_path=%",
                                   "id=victim&rel_path=a%2", "&&&", "id&rel_path"])
def test_malformed_query_string(api, victim, query):
    r = api.get("/read_file?" + query.replace("victim", victim))
    api.error(r, (400, 404, 422))


# --------------------------------------------------------------- paths
BAD_PATHS = [
    "..", "../x", "../../etc/passwd", "a/../b", "a/..", "dir/../../a.txt", "a/b/../../../c",
    "/etc/passwd", "/", "/a.txt", "//a.txt",
    "a\x00b", "\x00", "a.txt\x00.png",
    "a//b", "dir//b.txt", "a/", "dir/", "",
    # nothing left once the '.' components go: the session itself
    ".", "./.", "././.",
    "a" * 4097, ("ab/" * 1366)[:4097], "d/" * 2048 + "x",
]
PATH_IDS = [repr(p)[:24] + "(%d)" % len(p) for p in BAD_PATHS]


@pytest.mark.parametrize("path", BAD_PATHS, ids=PATH_IDS)
def test_bad_path_write(api, victim, path):
    r = api.post("/write_file", json={"id": victim, "rel_path": path, "content": "pwned"})
    api.error(r, 400, "invalid_path")


@pytest.mark.parametrize("path", BAD_PATHS, ids=PATH_IDS)
def test_bad_path_read(api, victim, path):
    r = api.get("/read_file", {"id": victim, "rel_path": path})
    api.error(r, 400, "invalid_path")


@pytest.mark.parametrize("path", BAD_PATHS, ids=PATH_IDS)
def test_bad_path_delete(api, victim, path):
    r = api.post("/delete_file", json={"id": victim, "rel_path": path})
    api.error(r, 400, "invalid_path")


@pytest.mark.parametrize("path", BAD_PATHS, ids=PATH_IDS)
def test_bad_path_rename(api, victim, path):
    r = api.post("/rename_file", json={"id": victim, "old_path": path, "new_path": "z.txt"})
    api.error(r, 400, "invalid_path")
    r = api.post("/rename_file", json={"id": victim, "old_path": "a.txt", "new_path": path})
    api.error(r, 400, "invalid_path")


def test_bad_path_on_new_session_creates_nothing(api, sid):
    r = api.post("/write_file", json={"id": sid, "rel_path": "../x", "content": "x"})
    api.error(r, 400, "invalid_path")
    api.error(api.read(sid, "x"), 404, "not_found")


# --------------------------------------------------------- session ids
BAD_IDS = ["", "a b", "a/b", "../x", "..", ".", "é", "a" * 129, "a.b", "a\x00b", "a\nb",
           "*", "evald:sess:x", "id?x=1", "a%2Fb", " "]
ID_IDS = [repr(i)[:20] + "(%d)" % len(i) for i in BAD_IDS]


@pytest.mark.parametrize("route", ROUTES_POST)
@pytest.mark.parametrize("bad", BAD_IDS, ids=ID_IDS)
def test_bad_session_id_post(api, route, bad):
    body = valid_body(route, "placeholder")
    body["id"] = bad
    r = api.post(route, json=body)
    api.error(r, 400, "invalid_session")


@pytest.mark.parametrize("bad", BAD_IDS, ids=ID_IDS)
def test_bad_session_id_read(api, bad):
    r = api.get("/read_file", {"id": bad, "rel_path": "a.txt"})
    api.error(r, 400, "invalid_session")


# ------------------------------------------------------------ body size
def test_body_over_nginx_limit(api, victim):
    raw = b'{"id": "%s", "rel_path": "huge.txt", "content": "' % victim.encode()
    raw += b"x" * (17 * MiB) + b'"}'
    r = api.post("/write_file", data=raw, headers={"Content-Type": "application/json"})
    api.error(r, 413, "too_large")


def test_body_over_worker_limit(api, victim, limits):
    size = limits["max_body_bytes"] + MiB
    raw = b'{"id": "%s", "rel_path": "big.txt", "content": "' % victim.encode()
    raw += b"x" * size + b'"}'
    r = api.post("/write_file", data=raw, headers={"Content-Type": "application/json"})
    api.error(r, 413, "too_large")
    r = api.post("/run", data=raw.replace(b'"rel_path"', b'"cmd"'),
                 headers={"Content-Type": "application/json"})
    api.error(r, 413, "too_large")


# ------------------------------------------------------ routes, methods
@pytest.mark.parametrize("method,path", [
    ("GET", "/nope"), ("POST", "/nope"), ("GET", "/write_file/extra"), ("GET", "/read_file/"),
    ("POST", "/run/"), ("GET", "/READ_FILE"), ("DELETE", "/nope"),
    ("GET", "/" + "x" * 3000),
])
def test_unknown_route(api, method, path):
    r = api.request(method, path)
    api.error(r, 404, "not_found")


@pytest.mark.parametrize("method,path", [
    ("POST", "/"), ("PUT", "/"), ("DELETE", "/"),
    ("GET", "/write_file"), ("PUT", "/write_file"),
    ("POST", "/read_file"), ("DELETE", "/read_file"),
    ("GET", "/delete_file"), ("GET", "/rename_file"), ("GET", "/fork_session"),
    ("GET", "/run"), ("PATCH", "/run"), ("GET", "/evaluate_code"), ("OPTIONS", "/evaluate_code"),
])
def test_wrong_method(api, method, path):
    r = api.request(method, path, json={"id": "x"} if method != "GET" else None)
    api.error(r, 405, "method_not_allowed")


def test_many_bad_requests_in_a_row(api, victim):
    """A burst of mixed garbage; afterwards every worker is still the same."""
    for i in range(200):
        kind = i % 5
        if kind == 0:
            r = api.post("/write_file", data=b"{" * (i + 1))
        elif kind == 1:
            r = api.post("/run", json={"id": victim, "cmd": i})
        elif kind == 2:
            r = api.get("/read_file", {"id": victim, "rel_path": "../" * i})
        elif kind == 3:
            r = api.post("/evaluate_code", json={"id": "x" * (120 + i)})
        else:
            r = api.request("PUT", "/fork_session", data=b"\xff" * i)
        assert 400 <= r.status_code < 500, (i, r.status_code, r.text[:200])
        assert set(r.json()) >= {"detail", "code"}
