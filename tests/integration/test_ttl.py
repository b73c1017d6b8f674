"""Idle sessions expire after session_ttl_s (3 s here); every use renews it."""

import time
import uuid

import pytest

TTL = 3


@pytest.fixture(scope="module")
def short(stack_factory, make_api):
    st = stack_factory.start("ttl", executors=0, api_workers=2,
                             overrides={"session_ttl_s": TTL})
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
    assert 0 < st.redis("TTL", keys_of(st, sid)[0]) <= TTL
    for _ in range(4):                       # 4 s in all > TTL: reads renew
        time.sleep(1.0)
        assert api.content(sid, "a.txt") == "a"
    assert api.content(sid, "d/b.txt") == "b"   # the whole session was renewed
    # The fork was never used after it was made: gone, every key of it.
    api.error(api.read(forked, "a.txt"), 404, "not_found")
    assert keys_of(st, forked) == []
    time.sleep(TTL + 1)
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
    for i in range(4):
        time.sleep(1.0)
        api.write(sid, "w%d.txt" % i, "w")
    assert api.content(sid, "a.txt") == "a"
