"""A tiny stand-in for the Hugging Face Hub's HTTP API, for hermetic tests.

It speaks the subset that huggingface_hub's own client calls for our flows
(whoami, create repo, repo info, preupload, commit, resolve), so the tests run
the real client code against 127.0.0.1. Files are kept in memory, uploaded
"regular" (inline, base64) rather than through LFS or Xet.
"""
import base64
import contextlib
import hashlib
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

TOKEN = "hf_fake_write_token_0123456789"
USER = "alice"
PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}


class FakeHub:
    def __init__(self, port: int = 0):
        self.repos: dict[tuple[str, str], dict] = {}  # (type, id) -> {"private", "sdk", "files", "sha"}
        self.requests: list[tuple[str, str]] = []  # (method, path), to see what the client did
        self.fail_with: int | None = None  # answer every request with this status (e.g. 500)
        self._connections: set = set()  # open keep-alive sockets, cut when the Hub goes down
        self._port = port
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self):
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self):
        """Take the server down: connections to its port are refused until start()."""
        self._server.shutdown()
        self._server.server_close()
        for conn in list(self._connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    @contextlib.contextmanager
    def down(self):
        """The Hub unreachable: connections refused while inside."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def add_repo(self, repo_id: str, files: dict[str, bytes], repo_type: str = "model", private: bool = False):
        self.repos[(repo_type, repo_id)] = {"private": private, "sdk": None, "files": dict(files), "sha": _sha(files)}


def _sha(files) -> str:
    h = hashlib.sha1()
    for path in sorted(files):
        h.update(path.encode() + b"\0" + files[path])
    return h.hexdigest()


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        self.hub._connections.add(self.connection)

    def finish(self):
        self.hub._connections.discard(self.connection)
        super().finish()

    # -- plumbing
    def _send(self, status, body=b"", headers=None, head=False):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status, code, message):
        self._send(status, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message})

    def _authorized(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {TOKEN}"

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _repo(self, repo_type, repo_id):
        repo = self.hub.repos.get((repo_type, repo_id))
        if repo is None or (repo["private"] and not self._authorized()):
            self._error(404 if self._authorized() else 401, "RepoNotFound", f"Repository {repo_id} not found")
            return None
        return repo

    def _dispatch(self, method):
        self.hub.requests.append((method, self.path))
        if self.hub.fail_with:
            if method == "POST":
                self._body()  # read the upload all the same, so the client gets the error, not a broken pipe
            return self._error(self.hub.fail_with, "ServerError", "the fake Hub is failing on purpose")
        path = self.path.split("?")[0]
        for pattern, handler in ROUTES:
            m = re.fullmatch(pattern, path)
            if m and handler.__name__.startswith(method.lower()):
                return handler(self, *m.groups())
        self._error(404, "NotFound", f"fake Hub has no route for {method} {path}")

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    # -- routes
    def get_whoami(self):
        if not self._authorized():
            return self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
        self._send(200, {"type": "user", "name": USER, "auth": {"accessToken": {"role": "write"}}, "orgs": []})

    def post_create(self):
        payload = json.loads(self._body() or b"{}")
        if not self._authorized():
            return self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or USER}/{payload['name']}"
        url = f"{self.hub.url}/{PREFIX[repo_type]}{repo_id}"
        if (repo_type, repo_id) in self.hub.repos:  # the Hub names the existing repo in its 409
            return self._send(409, {"error": "You already created this repo", "url": url},
                              {"X-Error-Code": "RepoExists", "X-Error-Message": "You already created this repo"})
        self.hub.repos[(repo_type, repo_id)] = {"private": payload.get("visibility") == "private",
                                                "sdk": payload.get("sdk"), "files": {}, "sha": _sha({})}
        self._send(200, {"url": url, "name": repo_id})

    def post_validate(self):
        """README.md front matter, checked before a commit: it must parse."""
        content = json.loads(self._body())["content"]
        try:
            yaml.safe_load(content.split("---")[1]) if content.startswith("---") else None
        except yaml.YAMLError as e:
            return self._send(400, {"errors": [{"message": str(e)}], "warnings": []})
        self._send(200, {"errors": [], "warnings": []})

    def get_info(self, repo_type, repo_id, revision=None):
        repo = self._repo(repo_type, repo_id)
        if repo:
            self._send(200, {"id": repo_id, "sha": repo["sha"], "private": repo["private"], "sdk": repo["sdk"],
                             "siblings": [{"rfilename": p} for p in sorted(repo["files"])]})

    def get_tree(self, repo_type, repo_id, revision):
        repo = self._repo(repo_type, repo_id)
        if repo:
            self._send(200, [{"type": "file", "path": p, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
                             for p, data in sorted(repo["files"].items())])

    def post_preupload(self, repo_type, repo_id, revision):
        payload = json.loads(self._body())
        if not self._authorized():
            return self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
        if self._repo(repo_type, repo_id):
            self._send(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                       for f in payload["files"]]})

    def post_commit(self, repo_type, repo_id, revision):
        lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
        if not self._authorized():
            return self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
        repo = self._repo(repo_type, repo_id)
        if not repo:
            return
        for line in lines:
            value = line["value"]
            if line["key"] == "file":
                repo["files"][value["path"]] = base64.b64decode(value["content"])
            elif line["key"] == "deletedFile":
                repo["files"].pop(value["path"], None)
            elif line["key"] != "header":
                return self._error(400, "BadRequest", f"fake Hub cannot commit {line['key']}")
        repo["sha"] = _sha(repo["files"])
        self._send(200, {"commitUrl": f"{self.hub.url}/{PREFIX[repo_type]}{repo_id}/commit/{repo['sha']}",
                         "commitOid": repo["sha"], "pullRequestUrl": None})

    def _resolve(self, repo_type, repo_id, revision, filename, head):
        repo = self._repo(repo_type, repo_id)
        if not repo:
            return
        if filename not in repo["files"]:
            return self._error(404, "EntryNotFound", f"{filename} does not exist on {revision}")
        data = repo["files"][filename]
        self._send(200, data, {"X-Repo-Commit": repo["sha"], "ETag": f'"{hashlib.sha1(data).hexdigest()}"',
                               "Content-Type": "application/octet-stream"}, head=head)

    def get_resolve(self, prefix, repo_id, revision, filename):
        self._resolve((prefix or "models/")[:-2], repo_id, revision, filename, head=False)

    def head_resolve(self, prefix, repo_id, revision, filename):
        self._resolve((prefix or "models/")[:-2], repo_id, revision, filename, head=True)


_ID = r"([\w.-]+/[\w.-]+)"
ROUTES = [
    (r"/api/whoami-v2", _Handler.get_whoami),
    (r"/api/repos/create", _Handler.post_create),
    (r"/api/validate-yaml", _Handler.post_validate),
    (rf"/api/(model|dataset|space)s/{_ID}(?:/revision/([^/]+))?", _Handler.get_info),
    (rf"/api/(model|dataset|space)s/{_ID}/tree/([^/]+)", _Handler.get_tree),
    (rf"/api/(model|dataset|space)s/{_ID}/preupload/([^/]+)", _Handler.post_preupload),
    (rf"/api/(model|dataset|space)s/{_ID}/commit/([^/]+)", _Handler.post_commit),
    (rf"/(datasets/|spaces/)?{_ID}/resolve/([^/]+)/(.+)", _Handler.get_resolve),
    (rf"/(datasets/|spaces/)?{_ID}/resolve/([^/]+)/(.+)", _Handler.head_resolve),
]
