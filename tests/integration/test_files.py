"""The REPL file routes: GET /, write_file, read_file, delete_file,
rename_file, fork_session, encodings and per-session limits."""

import base64
import uuid


MiB = 1024 * 1024


def test_ping(api):
    r = api.get("/")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.text.strip() == "ping"


def test_security_headers(api):
    for r in (api.get("/"), api.get("/no_such_route")):
        assert r.headers.get("X-Content-Type-Options") == "nosniff"
        assert r.headers.get("X-Frame-Options") == "DENY"
        assert r.headers.get("Referrer-Policy") == "no-referrer"
        assert "default-src" in r.headers.get("Content-Security-Policy", "")


def test_write_then_read(api, sid):
    body = api.write(sid, "example.py", "print('Hello, World!')")
    assert body["success"] is True
    assert body["id"] == sid
    assert body["rel_path"] == "example.py"
    r = api.read(sid, "example.py")
    got = api.ok(r)
    assert got["content"] == "print('Hello, World!')"
    assert got["id"] == sid
    assert got["rel_path"] == "example.py"


def test_write_creates_directories_and_overwrites(api, sid):
    api.write(sid, "a/b/c/deep.txt", "one")
    assert api.content(sid, "a/b/c/deep.txt") == "one"
    api.write(sid, "a/b/c/deep.txt", "two, longer than one")
    assert api.content(sid, "a/b/c/deep.txt") == "two, longer than one"
    api.write(sid, "a/b/c/deep.txt", "")
    assert api.content(sid, "a/b/c/deep.txt") == ""


def test_unicode_content_and_paths(api, sid):
    text = "héllo wörld ✓ 🐍 \u0000 zero byte, tab\t, crlf\r\n"
    path = "dir with space/ünïcødé-✓.txt"
    body = api.write(sid, path, text)
    assert body["rel_path"] == path
    got = api.ok(api.read(sid, path))
    assert got["content"] == text
    assert got["rel_path"] == path


def test_max_length_path_is_accepted(api, sid):
    # 4096 bytes exactly, in components a file system accepts (<= 255 bytes).
    comp = "d" * 200
    path = "/".join([comp] * 20)
    path += "/" + "f" * (4096 - len(path) - 1)
    assert len(path.encode()) == 4096
    api.write(sid, path, "long")
    assert api.content(sid, path) == "long"


def test_base64_roundtrip(api, sid):
    blob = bytes(range(256)) * 4
    api.write(sid, "bin/blob.dat", base64.b64encode(blob).decode(), encoding="base64")
    got = api.content(sid, "bin/blob.dat", encoding="base64")
    assert base64.b64decode(got) == blob


def test_non_utf8_read_without_base64_is_400(api, sid, snapshot):
    api.write(sid, "latin1.txt", base64.b64encode("café".encode("latin-1")).decode(),
              encoding="base64")
    before = snapshot()
    r = api.read(sid, "latin1.txt")
    api.error(r, 400, "not_utf8")
    assert snapshot() == before


def test_base64_of_text_reads_as_text(api, sid):
    api.write(sid, "t.txt", base64.b64encode("héllo".encode()).decode(), encoding="base64")
    assert api.content(sid, "t.txt") == "héllo"
    api.write(sid, "u.txt", "abc", encoding="utf-8")
    assert api.content(sid, "u.txt", encoding="base64") == "YWJj"


def test_invalid_base64_is_refused(api, sid, snapshot):
    api.write(sid, "keep.txt", "x")
    before = snapshot()
    r = api.post("/write_file", {"id": sid, "rel_path": "b.dat",
                                 "content": "!!not base64!!", "encoding": "base64"})
    api.error(r, (400, 422))
    assert snapshot() == before


def test_read_missing_file_and_session(api, sid):
    api.error(api.read(sid, "nothing.txt"), 404, "not_found")
    api.write(sid, "x.txt", "x")
    api.error(api.read(sid, "nothing.txt"), 404, "not_found")


def test_read_directory_is_refused(api, sid):
    api.write(sid, "d/x.txt", "x")
    api.error(api.read(sid, "d"), (400, 404))


def test_delete(api, sid):
    api.write(sid, "a.txt", "a")
    api.write(sid, "b.txt", "b")
    body = api.ok(api.post("/delete_file", {"id": sid, "rel_path": "a.txt"}))
    assert body["success"] is True
    assert body["id"] == sid
    assert body["rel_path"] == "a.txt"
    api.error(api.read(sid, "a.txt"), 404, "not_found")
    assert api.content(sid, "b.txt") == "b"
    api.error(api.post("/delete_file", {"id": sid, "rel_path": "a.txt"}), 404, "not_found")


def test_delete_unknown_session(api, sid):
    api.error(api.post("/delete_file", {"id": sid, "rel_path": "a.txt"}), 404, "not_found")


def test_rename(api, sid):
    api.write(sid, "old.txt", "content")
    api.write(sid, "other.txt", "other")
    body = api.ok(api.post("/rename_file", {"id": sid, "old_path": "old.txt",
                                            "new_path": "sub/dir/new.txt"}))
    assert body == dict(body, success=True, id=sid, old_path="old.txt",
                        new_path="sub/dir/new.txt")
    api.error(api.read(sid, "old.txt"), 404, "not_found")
    assert api.content(sid, "sub/dir/new.txt") == "content"
    assert api.content(sid, "other.txt") == "other"


def test_rename_missing(api, sid):
    api.error(api.post("/rename_file", {"id": sid, "old_path": "a", "new_path": "b"}),
              404, "not_found")
    api.write(sid, "x.txt", "x")
    api.error(api.post("/rename_file", {"id": sid, "old_path": "a", "new_path": "b"}),
              404, "not_found")
    assert api.content(sid, "x.txt") == "x"


def test_fork_copies_and_isolates(api, sid):
    blob = bytes(range(256))
    api.write(sid, "a.txt", "original a")
    api.write(sid, "dir/b.txt", "original b")
    api.write(sid, "blob.bin", base64.b64encode(blob).decode(), encoding="base64")
    body = api.ok(api.post("/fork_session", {"id": sid}))
    new = body["new_id"]
    assert str(uuid.UUID(new)) == new.lower() and new != sid
    assert api.content(new, "a.txt") == "original a"
    assert api.content(new, "dir/b.txt") == "original b"
    assert base64.b64decode(api.content(new, "blob.bin", encoding="base64")) == blob

    api.write(sid, "a.txt", "changed in original")
    api.write(new, "dir/b.txt", "changed in fork")
    api.write(new, "only-fork.txt", "f")
    api.ok(api.post("/delete_file", {"id": new, "rel_path": "blob.bin"}))
    assert api.content(new, "a.txt") == "original a"
    assert api.content(sid, "dir/b.txt") == "original b"
    api.error(api.read(sid, "only-fork.txt"), 404, "not_found")
    assert base64.b64decode(api.content(sid, "blob.bin", encoding="base64")) == blob

    again = api.ok(api.post("/fork_session", {"id": sid}))["new_id"]
    assert again not in (sid, new)


def test_fork_unknown_session(api, sid, snapshot):
    before = snapshot()
    api.error(api.post("/fork_session", {"id": sid}), 404, "not_found")
    assert snapshot() == before


def test_session_id_of_128_characters(api):
    for sid in ("a" * 128, "A-z_0-9" + "x" * 121, "-", "_"):
        api.write(sid, "f.txt", sid)
        assert api.content(sid, "f.txt") == sid
        new = api.ok(api.post("/fork_session", {"id": sid}))["new_id"]
        assert api.content(new, "f.txt") == sid


def test_session_byte_limit(api, sid, snapshot, limits):
    limit = limits["session_max_bytes"]
    three = "x" * (3 * MiB)
    two = "y" * (2 * MiB)
    api.write(sid, "big.txt", three)
    api.write(sid, "big.txt", three)        # replacing a file frees its old size
    api.write(sid, "two.txt", two)          # 5 MiB of 6
    assert 5 * MiB <= limit < 7 * MiB
    before = snapshot()
    r = api.post("/write_file", {"id": sid, "rel_path": "more.txt", "content": two})
    api.error(r, 413, "too_large")
    assert snapshot() == before
    api.error(api.read(sid, "more.txt"), 404, "not_found")
    # Room comes back when a file goes.
    api.ok(api.post("/delete_file", {"id": sid, "rel_path": "two.txt"}))
    api.write(sid, "more.txt", two)


def test_session_file_count_limit(api, sid, snapshot, limits):
    n = limits["session_max_files"]
    for i in range(n):
        api.write(sid, "f/%03d.txt" % i, str(i))
    api.write(sid, "f/000.txt", "overwriting is not a new file")
    before = snapshot()
    r = api.post("/write_file", {"id": sid, "rel_path": "f/one-too-many.txt", "content": "x"})
    api.error(r, 413, "too_large")
    assert snapshot() == before
    api.ok(api.post("/delete_file", {"id": sid, "rel_path": "f/001.txt"}))
    api.write(sid, "f/one-too-many.txt", "now there is room")


def test_json_content_type(api, sid):
    api.write(sid, "a.txt", "a")
    r = api.read(sid, "a.txt")
    assert r.headers["Content-Type"].startswith("application/json")
    r = api.read(sid, "missing")
    assert r.headers["Content-Type"].startswith("application/json")
