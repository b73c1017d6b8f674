"""What nginx answers by itself: JSON errors in the API's shape, the same
security headers everywhere, and the API coming back after a restart."""

import signal
import uuid

import pytest


@pytest.fixture(scope="module")
def restartable(stack_factory, make_api):
    st = stack_factory.start("nginx", executors=0, api_workers=2)
    yield st, make_api(st)
    stack_factory.stop(st)


def headers_ok(r):
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    assert r.headers.get("X-Frame-Options") == "DENY"


def test_static_miss_is_json_404(api):
    r = api.get("/static/no-such-file.css")
    api.error(r, 404, "not_found")
    headers_ok(r)


def test_api_down_is_json_502_then_back(restartable):
    st, api = restartable
    sid = str(uuid.uuid4())
    api.write(sid, "a.txt", "a")
    st.stop_api(signal.SIGKILL)
    try:
        for r in (api.get("/"), api.post("/write_file", {"id": sid, "rel_path": "b", "content": "b"}),
                  api.read(sid, "a.txt")):
            api.error(r, 502, "unavailable")
            headers_ok(r)
    finally:
        st.start_api()
    assert api.ping()
    assert api.content(sid, "a.txt") == "a"


def test_api_graceful_restart_keeps_serving(restartable):
    st, api = restartable
    sid = str(uuid.uuid4())
    api.write(sid, "a.txt", "a")
    assert st.stop_api(signal.SIGTERM) == 0, st.log_tail("api")
    st.start_api()
    assert api.content(sid, "a.txt") == "a"


def test_request_id_passes_through_only_when_usable(api):
    """nginx hands the API only the parameters it reads, X-Request-Id among
    them: a usable id comes back as sent; an empty or unusable one gets an
    id of the API's own (never an empty one)."""
    r = api.get("/", headers={"X-Request-Id": "trace-42_A"})
    assert r.status_code == 200 and r.headers["X-Request-Id"] == "trace-42_A"
    for bad in ("", "has space", "x" * 40):
        r = api.get("/", headers={"X-Request-Id": bad})
        assert r.status_code == 200
        rid = r.headers["X-Request-Id"]
        assert rid and rid != bad and len(rid) < 40, (bad, rid)
