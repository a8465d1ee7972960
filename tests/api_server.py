#!/usr/bin/env python3
"""A local CodeCarbon-compatible API server for the tests (CODECARBON.md 1.2-1.6).

Listens on 127.0.0.1 (port 0: a free one), prints "port N" and writes N to --port-file.
Enforces what the real server enforces: x-api-token ownership on POST /runs and
POST /emissions (403 as CodeCarbon answers), Bearer on user routes (401 without it,
403 when not a member), body fields, types and ranges (422 FastAPI-style), and answers
201 with the bodies CodeCarbon returns. Everything is kept in memory; /_test/ routes let
tests seed data, read what arrived and inject faults:

  POST /_test/seed   {"users": [{"token", "name", "email"?, "orgs": [org ids]}],
                      "orgs": [{"id", "name", "description"?}],
                      "projects": [{"id", "name", "organization_id", "description"?}],
                      "experiments": [{"id", "name", "project_id", ...}],
                      "tokens": [{"token", "project_id", "name"?, "access"?}]}
                     (also --seed FILE at start)
  POST /_test/fault  {"mode": "none"|"503"|"500"|"hang"|"reset"|"slow", "seconds": N,
                      "delay": S (slow: answer after S s), "paths": ["/emissions", ...]?}
                     the fault applies to non-/_test requests for N seconds from now
  GET  /_test/emissions?experiment_id=E   emissions stored, in arrival order
  GET  /_test/runs?experiment_id=E        runs stored
  GET  /_test/requests                    [{method, path, status}] of API requests
  GET  /_test/state                       everything
"""
import argparse
import datetime
import json
import re
import socket
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


class Invalid(Exception):
    """A request body that FastAPI/pydantic would reject (422)."""

    def __init__(self, loc, msg):
        super().__init__(msg)
        self.loc = loc
        self.msg = msg


class HttpError(Exception):
    def __init__(self, status, detail, headers=None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def is_uuid(v):
    return isinstance(v, str) and bool(UUID_RE.match(v))


def check_datetime(body, k):
    v = body.get(k)
    if not isinstance(v, str):
        raise Invalid(["body", k], "Input should be a valid datetime")
    try:
        datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(["body", k], "Input should be a valid datetime")


def check_type(body, k, kind, required=False, nullable=True, minimum=None, maximum=None):
    if k not in body:
        if required:
            raise Invalid(["body", k], "Field required")
        return
    v = body[k]
    if v is None:
        if not nullable:
            raise Invalid(["body", k], "Input should not be None")
        return
    if kind == "str":
        ok = isinstance(v, str)
    elif kind == "int":
        ok = isinstance(v, int) and not isinstance(v, bool)
    elif kind == "float":
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    elif kind == "bool":
        ok = isinstance(v, bool)
    elif kind == "uuid":
        ok = is_uuid(v)
    else:
        raise AssertionError(kind)
    if not ok:
        raise Invalid(["body", k], "Input should be a valid " + kind)
    if minimum is not None and v < minimum:
        raise Invalid(["body", k], "Input should be greater than or equal to %s" % minimum)
    if maximum is not None and v > maximum:
        raise Invalid(["body", k], "Input should be less than or equal to %s" % maximum)


RUN_FIELDS = [("os", "str"), ("python_version", "str"), ("codecarbon_version", "str"),
              ("cpu_count", "int"), ("cpu_model", "str"), ("gpu_count", "int"),
              ("gpu_model", "str"), ("longitude", "float"), ("latitude", "float"),
              ("region", "str"), ("provider", "str"), ("ram_total_size", "float"),
              ("tracking_mode", "str")]
EMISSION_FLOATS = ["emissions_sum", "emissions_rate", "cpu_power", "gpu_power", "ram_power",
                   "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed"]


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.users = {}        # bearer token -> user
        self.orgs = {}
        self.projects = {}
        self.experiments = {}
        self.tokens = {}       # project token -> record
        self.runs = {}
        self.emissions = []
        self.requests = []
        self.fault = {"mode": "none", "until": 0.0, "delay": 0.0, "paths": None}

    def seed(self, s):
        with self.lock:
            for u in s.get("users", []):
                self.users[u["token"]] = {"sub": u.get("sub", str(uuid.uuid4())),
                                          "name": u.get("name", "user"),
                                          "email": u.get("email", "user@example.org"),
                                          "orgs": list(u.get("orgs", []))}
            for o in s.get("orgs", []):
                self.orgs[o["id"]] = {"id": o["id"], "name": o["name"],
                                      "description": o.get("description", "")}
            for p in s.get("projects", []):
                self.projects[p["id"]] = {"id": p["id"], "name": p["name"],
                                          "description": p.get("description", ""),
                                          "organization_id": p["organization_id"],
                                          "experiments": [], "public": False}
            for e in s.get("experiments", []):
                rec = {"id": e["id"], "name": e["name"], "description": e.get("description", ""),
                       "project_id": e["project_id"],
                       "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                       "on_cloud": False, "country_name": e.get("country_name"),
                       "country_iso_code": e.get("country_iso_code"), "region": None,
                       "cloud_provider": None, "cloud_region": None}
                self.experiments[e["id"]] = rec
                self.projects[e["project_id"]]["experiments"].append(e["id"])
            for t in s.get("tokens", []):
                self.tokens[t["token"]] = {"id": str(uuid.uuid4()), "project_id": t["project_id"],
                                           "name": t.get("name", "seeded"),
                                           "access": t.get("access", 2), "revoked": False,
                                           "last_used": None}


STATE = State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "carbonbpf-test-api"

    def log_message(self, fmt, *args):
        pass

    # ---- plumbing ----
    def send_json(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.last_status = status

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise HttpError(422, [{"type": "json_invalid", "loc": ["body"], "msg": "JSON decode error"}])

    def user(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise HttpError(401, "Not authenticated", {"WWW-Authenticate": "Bearer"})
        u = STATE.users.get(auth[7:].strip())
        if not u:
            raise HttpError(401, "Invalid token", {"WWW-Authenticate": "Bearer"})
        return u

    def project_token(self):
        t = self.headers.get("x-api-token")
        if not t:
            raise HttpError(403, "Missing project token")
        rec = STATE.tokens.get(t)
        if not rec or rec["revoked"] or rec["access"] not in (2, 3):
            raise HttpError(403, "Not allowed to perform this action")
        return rec

    def member_of_org(self, u, org_id):
        if org_id not in STATE.orgs:
            raise HttpError(404, "Organization not found")
        if org_id not in u["orgs"]:
            raise HttpError(403, "Not allowed to perform this action")

    def member_of_project(self, u, project_id):
        p = STATE.projects.get(project_id)
        if not p:
            raise HttpError(404, "Project not found")
        self.member_of_org(u, p["organization_id"])
        return p

    def apply_fault(self, path):
        f = STATE.fault
        if f["mode"] == "none" or time.time() >= f["until"]:
            return False
        if f["paths"] and not any(path.startswith(p) for p in f["paths"]):
            return False
        mode = f["mode"]
        if mode in ("503", "500"):
            self.read_body()
            self.send_json(int(mode), {"detail": "Service Unavailable" if mode == "503" else "Generic error"})
            return True
        if mode == "hang":
            # Never answer while the fault lasts, then drop the connection.
            while time.time() < f["until"]:
                time.sleep(0.05)
            self.close_connection = True
            self.last_status = 0
            return True
        if mode == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.last_status = 0
            return True
        if mode == "slow":
            time.sleep(f["delay"])
            return False
        return False

    def handle_any(self, method):
        url = urlparse(self.path)
        path = url.path
        if path.startswith("/api/"):
            path = path[4:]
        self.last_status = 0
        try:
            if path.startswith("/_test/"):
                return self.test_route(method, path, parse_qs(url.query))
            if self.apply_fault(path):
                return
            status, obj = self.route(method, path)
            self.send_json(status, obj)
        except HttpError as e:
            self.send_json(e.status, {"detail": e.detail}, e.headers)
        except Invalid as e:
            self.send_json(422, {"detail": [{"type": "value_error", "loc": e.loc, "msg": e.msg}]})
        finally:
            if not path.startswith("/_test/"):
                with STATE.lock:
                    STATE.requests.append({"method": method, "path": path, "status": self.last_status,
                                           "time": time.time()})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")

    # ---- test control ----
    def test_route(self, method, path, q):
        exp = (q.get("experiment_id") or [None])[0]
        if method == "POST" and path == "/_test/seed":
            STATE.seed(self.read_body() or {})
            return self.send_json(200, {"ok": True})
        if method == "POST" and path == "/_test/fault":
            b = self.read_body() or {}
            with STATE.lock:
                STATE.fault = {"mode": str(b.get("mode", "none")),
                               "until": time.time() + float(b.get("seconds", 3600)),
                               "delay": float(b.get("delay", 1.0)), "paths": b.get("paths")}
            return self.send_json(200, {"ok": True})
        with STATE.lock:
            if path == "/_test/emissions":
                runs = {r for r, v in STATE.runs.items() if exp is None or v["experiment_id"] == exp}
                return self.send_json(200, [e for e in STATE.emissions if e["run_id"] in runs])
            if path == "/_test/runs":
                return self.send_json(200, [r for r in STATE.runs.values()
                                            if exp is None or r["experiment_id"] == exp])
            if path == "/_test/requests":
                return self.send_json(200, STATE.requests)
            if path == "/_test/state":
                return self.send_json(200, {"orgs": STATE.orgs, "projects": STATE.projects,
                                            "experiments": STATE.experiments,
                                            "runs": STATE.runs, "emissions": STATE.emissions,
                                            "tokens": list(STATE.tokens.values())})
        raise HttpError(404, "Not Found")

    # ---- CodeCarbon routes ----
    def route(self, method, path):
        parts = [p for p in path.split("/") if p]
        if method == "GET" and not parts:
            return 200, {"status": "OK"}
        if method == "POST" and parts == ["runs"]:
            return self.create_run()
        if method == "POST" and parts == ["emissions"]:
            return self.add_emission()
        u = self.user()
        with STATE.lock:
            if method == "GET" and parts == ["auth", "check"]:
                return 200, {"user": {k: u[k] for k in ("sub", "name", "email")}}
            if parts == ["organizations"]:
                if method == "GET":
                    return 200, [STATE.orgs[o] for o in u["orgs"] if o in STATE.orgs]
                if method == "POST":
                    b = self.body_object()
                    check_type(b, "name", "str", required=True, nullable=False)
                    check_type(b, "description", "str", required=True, nullable=False)
                    o = {"id": str(uuid.uuid4()), "name": b["name"], "description": b["description"]}
                    STATE.orgs[o["id"]] = o
                    u["orgs"].append(o["id"])
                    return 201, o
            if len(parts) == 3 and parts[0] == "organizations" and parts[2] == "projects" and method == "GET":
                self.member_of_org(u, parts[1])
                return 200, [p for p in STATE.projects.values() if p["organization_id"] == parts[1]]
            if parts == ["projects"] and method == "POST":
                b = self.body_object()
                check_type(b, "name", "str", required=True, nullable=False)
                check_type(b, "description", "str", required=True, nullable=False)
                check_type(b, "organization_id", "uuid", required=True, nullable=False)
                self.member_of_org(u, b["organization_id"])
                p = {"id": str(uuid.uuid4()), "name": b["name"], "description": b["description"],
                     "organization_id": b["organization_id"], "experiments": [], "public": False}
                STATE.projects[p["id"]] = p
                return 201, p
            if len(parts) == 3 and parts[0] == "projects" and parts[2] == "experiments" and method == "GET":
                self.member_of_project(u, parts[1])
                return 200, [e for e in STATE.experiments.values() if e["project_id"] == parts[1]]
            if parts == ["experiments"] and method == "POST":
                b = self.body_object()
                check_type(b, "name", "str", required=True, nullable=False)
                check_type(b, "description", "str", required=True, nullable=False)
                check_type(b, "project_id", "uuid", required=True, nullable=False)
                check_type(b, "on_cloud", "bool")
                for k in ("country_name", "country_iso_code", "region", "cloud_provider", "cloud_region"):
                    check_type(b, k, "str")
                p = self.member_of_project(u, b["project_id"])
                e = {"id": str(uuid.uuid4()), "name": b["name"], "description": b["description"],
                     "project_id": b["project_id"],
                     "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                     "on_cloud": bool(b.get("on_cloud")),
                     **{k: b.get(k) for k in ("country_name", "country_iso_code", "region",
                                              "cloud_provider", "cloud_region")}}
                STATE.experiments[e["id"]] = e
                p["experiments"].append(e["id"])
                return 201, e
            if len(parts) == 3 and parts[0] == "projects" and parts[2] == "api-tokens":
                self.member_of_project(u, parts[1])
                if method == "GET":
                    return 200, [{k: v for k, v in t.items()} | {"token": None}
                                 for t in STATE.tokens.values() if t["project_id"] == parts[1]]
                if method == "POST":
                    b = self.body_object()
                    check_type(b, "name", "str")
                    check_type(b, "access", "int", minimum=1, maximum=3)
                    tok = "cpt_" + uuid.uuid4().hex + uuid.uuid4().hex[:11]
                    rec = {"id": str(uuid.uuid4()), "project_id": parts[1], "name": b.get("name"),
                           "access": b.get("access") or 2, "revoked": False, "last_used": None}
                    STATE.tokens[tok] = rec
                    return 201, dict(rec, token=tok)
        raise HttpError(404, "Not Found")

    def body_object(self):
        b = self.read_body()
        if not isinstance(b, dict):
            raise Invalid(["body"], "Input should be a valid dictionary")
        return b

    def create_run(self):
        if not self.headers.get("x-api-token"):
            raise HttpError(403, "Missing project token")
        b = self.body_object()
        check_datetime(b, "timestamp")
        check_type(b, "experiment_id", "uuid", required=True, nullable=False)
        for k, kind in RUN_FIELDS:
            check_type(b, k, kind)
        with STATE.lock:
            tok = self.project_token()
            e = STATE.experiments.get(b["experiment_id"])
            if not e or e["project_id"] != tok["project_id"]:
                raise HttpError(403, "Not allowed to perform this action")
            tok["last_used"] = time.time()
            run = {"id": str(uuid.uuid4()), "timestamp": b["timestamp"],
                   "experiment_id": b["experiment_id"], **{k: b.get(k) for k, _ in RUN_FIELDS}}
            STATE.runs[run["id"]] = run
        return 201, run

    def add_emission(self):
        if not self.headers.get("x-api-token"):
            raise HttpError(403, "Missing project token")
        b = self.body_object()
        check_datetime(b, "timestamp")
        check_type(b, "run_id", "uuid", required=True, nullable=False)
        check_type(b, "duration", "int", required=True, nullable=False)
        if b["duration"] <= 0:
            raise Invalid(["body", "duration"], "Input should be greater than 0")
        for k in EMISSION_FLOATS:
            check_type(b, k, "float", required=True, minimum=0)
        for k in ("cpu_utilization_percent", "gpu_utilization_percent", "ram_utilization_percent"):
            check_type(b, k, "float", minimum=0, maximum=100)
        check_type(b, "wue", "float", minimum=0)
        with STATE.lock:
            tok = self.project_token()
            run = STATE.runs.get(b["run_id"])
            e = STATE.experiments.get(run["experiment_id"]) if run else None
            if not e or e["project_id"] != tok["project_id"]:
                raise HttpError(403, "Not allowed to perform this action")
            rec = dict(b)
            rec["id"] = str(uuid.uuid4())
            rec.setdefault("wue", 0)
            STATE.emissions.append(rec)
        return 201, rec["id"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--seed", help="JSON file in the /_test/seed format")
    a = ap.parse_args()
    if a.seed:
        with open(a.seed) as f:
            STATE.seed(json.load(f))
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        import os
        os.rename(tmp, a.port_file)
    print("port %d" % port, flush=True)
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
