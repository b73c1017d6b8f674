"""A thin client of evald's HTTP API for the test suites, as a user of the
API would write one: raw requests, the routes that must succeed, and one
check of the {detail, code} error shape."""

import uuid

import requests


class Api:
    """A thin client of the HTTP API, as a user of it would write one."""

    def __init__(self, url, token=None, redis=None):
        self.url = url
        self.s = requests.Session()
        # Tests run up to 16 requests at once from threads.
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
        self.s.mount("http://", adapter)
        if token:
            self.s.headers["Authorization"] = "Bearer " + token
        self.redis = redis

    # raw requests ---------------------------------------------------------
    def get(self, path, params=None, **kw):
        kw.setdefault("timeout", 60)
        return self.s.get(self.url + path, params=params, **kw)

    def post(self, path, json=None, data=None, **kw):
        kw.setdefault("timeout", 120)
        return self.s.post(self.url + path, json=json, data=data, **kw)

    def request(self, method, path, **kw):
        kw.setdefault("timeout", 60)
        return self.s.request(method, self.url + path, **kw)

    # routes that must succeed ------------------------------------------------
    def ok(self, r):
        assert r.status_code == 200, "%s %s -> %d %s" % (
            r.request.method, r.request.url[:200], r.status_code, r.text[:500])
        assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
        return r.json()

    def write(self, sid, rel_path, content, encoding=None):
        body = {"id": sid, "rel_path": rel_path, "content": content}
        if encoding:
            body["encoding"] = encoding
        return self.ok(self.post("/write_file", body))

    def read(self, sid, rel_path, encoding=None):
        params = {"id": sid, "rel_path": rel_path}
        if encoding:
            params["encoding"] = encoding
        return self.get("/read_file", params)

    def content(self, sid, rel_path, encoding=None):
        return self.ok(self.read(sid, rel_path, encoding))["content"]

    def run(self, sid, cmd, **extra):
        return self.ok(self.post("/run", dict({"id": sid, "cmd": cmd}, **extra)))

    def evaluate(self, code, entry_point, io_cases, sid=None, **extra):
        body = {"id": sid or str(uuid.uuid4()), "code": code,
                "entry_point": entry_point, "io_cases": io_cases}
        body.update(extra)
        return self.ok(self.post("/evaluate_code", body))

    # errors ----------------------------------------------------------------
    @staticmethod
    def error(r, status, code=None, field=None):
        """Asserts r is an error answer: status (an int or a tuple of allowed
        ones), a JSON {detail, code} body, code (a str or tuple) and, when
        given, the name of the offending field in detail. Returns the body."""
        statuses = status if isinstance(status, tuple) else (status,)
        what = "%s %s -> %d %s" % (r.request.method, r.request.url[:160],
                                   r.status_code, r.text[:300])
        assert r.status_code in statuses, what
        assert r.headers.get("Content-Type", "").startswith("application/json"), what
        body = r.json()
        assert isinstance(body, dict), what
        assert isinstance(body.get("detail"), str) and body["detail"], what
        assert isinstance(body.get("code"), str) and body["code"], what
        if code is not None:
            codes = code if isinstance(code, tuple) else (code,)
            assert body["code"] in codes, what
        if field is not None:
            assert field in body["detail"], what
        return body

    def ping(self):
        r = self.get("/", timeout=10)
        return r.status_code == 200 and r.text.strip() == "ping"
