"""Idle sessions expire after session_ttl_s (2 s here); every use renews it."""

import time
import uuid

import pytest


@pytest.fixture(scope="module")
def short(stack_factory, make_api):
    st = stack_factory.start("ttl", executors=0, api_workers=2,
                             overrides={"session_ttl_s": 2})
    yield st, make_api(st)
    stack_factory.stop(st)


def keys_of(st, sid):
    return [k for k in (st.redis("KEYS", "evald:sess:*") or []) if sid.encode() in k]


def test_session_expires_and_use_renews(short):
    st, api = short
    sid = str(uuid.uuid4())
    api.write(sid, "a.txt", "a")
    api.write(sid, "d/b.txt", "b")
    forked = api.ok(api.post("/fork_session", {"id": sid}))["new_id"]
    assert keys_of(st, sid) and keys_of(st, forked)
    for _ in range(3):                       # 3.6 s in all, each read renews
        time.sleep(1.2)
        assert api.content(sid, "a.txt") == "a"
    assert api.content(sid, "d/b.txt") == "b"   # renewal covers every file
    # The fork was never used after its creation: gone, every key of it.
    api.error(api.read(forked, "a.txt"), 404, "not_found")
    assert keys_of(st, forked) == []
    time.sleep(3)
    api.error(api.read(sid, "a.txt"), 404, "not_found")
    api.error(api.read(sid, "d/b.txt"), 404, "not_found")
    assert keys_of(st, sid) == []
    # An expired session is a new one on the next write.
    api.write(sid, "c.txt", "c")
    api.error(api.read(sid, "a.txt"), 404, "not_found")


def test_write_renews_too(short):
    st, api = short
    sid = str(uuid.uuid4())
    api.write(sid, "a.txt", "a")
    for i in range(3):
        time.sleep(1.2)
        api.write(sid, "w%d.txt" % i, "w")
    assert api.content(sid, "a.txt") == "a"
