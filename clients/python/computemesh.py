"""A client of a computemesh node's local API, standard library only.

The node (``meshnode start`` or ``meshnode devnet``) listens on loopback and
writes its address and bearer token into its data dir (``api.addr``,
``api.token``); ``Client(data_dir)`` reads them. Every operation of the
OpenAPI document the node serves (``GET /v1/openapi.json``) has a method.
Errors the node answers raise ``APIError`` with its ``code`` and
``message``.

    import computemesh
    c = computemesh.Client("~/.computemesh")
    module = open("hello.wasm", "rb").read()
    job = c.submit(computemesh.wasm_spec(module, args=["world"]), module=module, detach=True)
    for event in c.events(job["job"], follow=True):
        if event["kind"] == "log":
            print(event["message"], end="")
    c.download(c.job(job["job"])["outcome"]["outputs"], "outputs")
"""

import base64
import hashlib
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["APIError", "Client", "module_cid", "wasm_spec"]


class APIError(Exception):
    """An error the node answered with: code (bad_request, unauthorized,
    forbidden, not_found, conflict, too_large, upstream), message, and the
    HTTP status."""

    def __init__(self, code, message, status=None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


def module_cid(module):
    """The CID the mesh names a WASM module by: CIDv1, raw, SHA2-256,
    base32 ("bafkrei...")."""
    digest = hashlib.sha256(module).digest()
    raw = bytes([0x01, 0x55, 0x12, 0x20]) + digest
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def wasm_spec(module, name="job.wasm", args=(), cpus=1, memory=64 << 20, timeout_s=30, policy="cost", **extra):
    """A job spec running a WASM module (WASI preview 1); extra fields
    (region, max_price, env, inputs, ...) go into the spec as they are."""
    spec = {
        "executor": "wasm", "module": module_cid(module), "name": name, "args": list(args),
        "resources": {"cpu_millis": int(cpus * 1000), "memory_bytes": int(memory)},
        "timeout_ms": int(timeout_s * 1000), "policy": policy,
    }
    spec.update(extra)
    return spec


class Client:
    """The API of the node running with data_dir (or at addr with token)."""

    def __init__(self, data_dir=None, addr=None, token=None, timeout=60):
        if data_dir is not None:
            data_dir = os.path.expanduser(data_dir)
            try:
                with open(os.path.join(data_dir, "api.addr")) as f:
                    addr = f.read().strip()
                with open(os.path.join(data_dir, "api.token")) as f:
                    token = f.read().strip()
            except OSError as e:
                raise APIError("no_node", f"no running node with data dir {data_dir}: {e}") from e
        if not addr or not token:
            raise ValueError("give data_dir, or addr and token")
        self.base, self.token, self.timeout = "http://" + addr, token, timeout

    # -- transport ---------------------------------------------------------

    def _request(self, method, path, body=None, query=None, stream=False):
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            resp = urllib.request.urlopen(req, timeout=None if stream else self.timeout)
        except urllib.error.HTTPError as e:
            raise _error(e) from None
        except urllib.error.URLError as e:
            raise APIError("no_node", f"the node at {self.base} does not answer: {e.reason}") from None
        return resp

    def _json(self, method, path, body=None, query=None):
        with self._request(method, path, body, query) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def _lines(self, resp):
        with resp:
            for line in resp:
                line = line.strip()
                if line:
                    yield json.loads(line)

    # -- the node ----------------------------------------------------------

    def info(self):
        """The node: peer ID, mode, capacity, free, running, queued, peers, balance."""
        return self._json("GET", "/v1/info")

    def openapi(self):
        """The node's OpenAPI document."""
        return self._json("GET", "/v1/openapi.json")

    def provider_jobs(self):
        """As a provider: {"running": [{job, resources}], "queued": [job IDs]}."""
        return self._json("GET", "/v1/provider/jobs")

    def drain(self):
        """Take no new jobs; stop once the running ones have finished."""
        self._json("POST", "/v1/drain")

    # -- jobs --------------------------------------------------------------

    def submit(self, spec, module=None, detach=False, on_event=None, wait_s=None, **fields):
        """Submit a job. With detach, returns as soon as the job has its ID
        ({"job": ID, "state": "submitted"}); else follows it, calling
        on_event(event) for each event, and returns its outcome. wait_s: how
        long the job may wait for a provider. fields: other SubmitRequest
        fields (bid_window_ms, secrets, max_wait_ms)."""
        body = {"spec": spec, "module": base64.b64encode(module).decode() if module else None}
        if detach:
            body["detach"] = True
        if wait_s:
            body["deadline_ms"] = int((time.time() + wait_s) * 1000)
        body.update(fields)
        query = None if on_event or detach else {"events": "false"}
        for line in self._lines(self._request("POST", "/v1/jobs", body, query, stream=True)):
            if line.get("error"):
                e = line["error"]
                raise APIError(e["code"], e["message"])
            if line.get("outcome"):
                return line["outcome"]
            if line.get("event") and on_event:
                on_event(line["event"])
        raise APIError("upstream", "the node ended the answer without an outcome")

    def jobs(self):
        """The jobs this node submitted, newest first."""
        return self._json("GET", "/v1/jobs")

    def job(self, job_id):
        """One job's record: rounds, bids, rejections, attempts, outcome."""
        return self._json("GET", "/v1/jobs/" + urllib.parse.quote(job_id, safe=""))

    def events(self, job_id, follow=False):
        """The job's events so far, and with follow those to come until it
        ends (log lines are events of kind "log")."""
        path = "/v1/jobs/" + urllib.parse.quote(job_id, safe="") + "/events"
        resp = self._request("GET", path, query={"follow": "1"} if follow else None, stream=True)
        for line in self._lines(resp):
            if line.get("event"):
                yield line["event"]

    def logs(self, job_id, follow=False):
        """The job's output as it comes: the messages of its log events."""
        for e in self.events(job_id, follow):
            if e["kind"] == "log":
                yield e["message"]

    def cancel(self, job_id):
        """Cancel a job this node submitted (APIError conflict once it ended)."""
        self._json("POST", "/v1/jobs/" + urllib.parse.quote(job_id, safe="") + "/cancel")

    # -- market, credits, providers -----------------------------------------

    def market(self, window="1h"):
        return self._json("GET", "/v1/market", query={"window": window})

    def credits(self, recent=20):
        return self._json("GET", "/v1/credits", query={"recent": recent})

    def verify_ledger(self):
        return self._json("POST", "/v1/ledger/verify", {})

    def add_grant(self, grant):
        self._json("POST", "/v1/grants", grant)

    def reputation(self):
        return self._json("GET", "/v1/reputation")

    def providers(self, need=None):
        """Search the mesh for providers (need: a job.Need; None: all)."""
        return self._json("POST", "/v1/providers", need or {})

    def challenge(self, peer):
        return self._json("POST", "/v1/challenge", {"peer": peer})

    # -- content -------------------------------------------------------------

    def gc(self, dry_run=True):
        return self._json("POST", "/v1/gc", {"dry_run": dry_run})

    def fetch_content(self, cid):
        """Bring published content into the node's store from whoever holds it."""
        return self._json("POST", "/v1/content/fetch", {"cid": cid})

    def _content(self, cid, path=""):
        names = [urllib.parse.quote(n, safe="") for n in path.strip("/").split("/") if n]
        return self._request("GET", "/".join(["/v1/content", urllib.parse.quote(cid, safe="")] + names), stream=True)

    def list(self, cid, path=""):
        """The directory at path beneath cid: {"cid", "entries": [{name, cid, type, size}]}."""
        with self._content(cid, path) as resp:
            if resp.headers.get_content_type() != "application/json":
                raise APIError("bad_request", f"{cid}/{path} is a file, not a directory")
            return json.loads(resp.read())

    def read(self, cid, path=""):
        """The bytes of the file at path beneath cid."""
        with self._content(cid, path) as resp:
            if resp.headers.get_content_type() != "application/octet-stream":
                raise APIError("bad_request", f"{cid}/{path} is a directory: list it")
            return resp.read()

    def download(self, cid, target, _path="", _depth=0):
        """Write the file or tree cid to target, which must not exist; names
        that could lead out of target are refused, whatever the node says."""
        if _depth > 64:
            raise APIError("too_large", f"{_path}: more than 64 levels of directories")
        if os.path.lexists(target):
            raise FileExistsError(f"{target} exists")
        with self._content(cid, _path) as resp:
            if resp.headers.get_content_type() == "application/octet-stream":
                with open(target, "xb") as f:
                    while chunk := resp.read(1 << 20):
                        f.write(chunk)
                return
            listing = json.loads(resp.read())
        os.mkdir(target)
        for e in listing["entries"]:
            name = e["name"]
            if not _plain_name(name):
                raise APIError("bad_request", f"the node listed an entry named {name!r}: refused")
            self.download(cid, os.path.join(target, name), _path + "/" + name, _depth + 1)


_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}


def _plain_name(name):
    """Whether name is a plain file name on every system: not empty, . or
    .., no separator, NUL or drive colon (C:x is relative to another
    directory on Windows), no Windows device name, no trailing dot or
    space, at most 255 bytes."""
    if name in ("", ".", "..") or any(c in name for c in "/\\\x00:") or len(name.encode()) > 255:
        return False
    return name.split(".")[0].upper() not in _RESERVED and not name.endswith((".", " "))


def _error(e):
    """The APIError of an HTTP error answer."""
    raw = e.read()
    try:
        body = json.loads(raw)
        return APIError(body["code"], body["message"], e.code)
    except (ValueError, KeyError, TypeError):
        return APIError("upstream", raw.decode(errors="replace").strip() or str(e), e.code)
