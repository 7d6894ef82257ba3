#!/usr/bin/python3
"""registry.py: a small Confluent Schema Registry for the tests and the benchmark.

It serves the part of the registry's REST API (v1) that Avro serializers use, checks what
the real registry checks on those calls, and answers with the real registry's error codes.
What it covers and what it does not: docs/testing.md ("The schema registry of the tests").

    registry.py --port-file FILE [--port N] [--user-info USER:PASSWORD]
                [--cert PEM --key PEM] [--control FILE] [--log FILE] [--first-id N]
                [--state FILE]

--port 0 (the default) takes a free loopback port; the port is written to --port-file once
the server listens. --control names a file read before each request: while it exists and
holds a status (401, 403, 500, 503, ...) every request is answered with it; "hang N" holds
each request N seconds before answering. --log appends "METHOD PATH STATUS" per request. --state
keeps the schemas in FILE, so that a registry stopped and started again on it (an outage)
knows them.
Schemas are parsed with Debian's python3-avro, so an invalid one is refused (422, 42201) by
an implementation independent of the one under test.
"""
import argparse
import base64
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import avro.schema

CONTENT_TYPES = ("application/vnd.schemaregistry.v1+json", "application/vnd.schemaregistry+json",
                 "application/json", "application/octet-stream")


class Store:
    """Schemas by id, and the versions of each subject, as the registry keeps them: an id
    names one schema whatever the subject; registering a schema a subject already holds
    gives its id again without a new version."""

    def __init__(self, first_id, state):
        self.lock = threading.Lock()
        self.next_id = first_id
        self.by_id = {}        # id -> (text, parsed JSON)
        self.subjects = {}     # subject -> [id of version 1, id of version 2, ...]
        self.state = state
        if state and os.path.exists(state):
            with open(state) as f:
                saved = json.load(f)
            self.next_id = saved["next_id"]
            self.by_id = {int(k): (t, json.loads(t)) for k, t in saved["schemas"].items()}
            self.subjects = saved["subjects"]

    def save(self):
        if not self.state:
            return
        tmp = self.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"next_id": self.next_id, "subjects": self.subjects,
                       "schemas": {str(k): t for k, (t, _) in self.by_id.items()}}, f)
        os.rename(tmp, self.state)

    def find(self, parsed):
        for sid, (_, p) in self.by_id.items():
            if p == parsed:
                return sid
        return None

    def register(self, subject, text, parsed):
        with self.lock:
            sid = self.find(parsed)
            if sid is None:
                sid = self.next_id
                self.next_id += 1
                self.by_id[sid] = (text, parsed)
            versions = self.subjects.setdefault(subject, [])
            if sid not in versions:
                versions.append(sid)
            self.save()
            return sid


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "test-schema-registry/1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        if self.server.log_path:
            with open(self.server.log_path, "a") as f:
                f.write(f"{self.command} {self.path} {status}\n")

    def error(self, status, code, message):
        self.answer(status, {"error_code": code, "message": message})

    def control(self):
        """The fault the control file asks for, or None."""
        path = self.server.control
        if not path:
            return None
        try:
            with open(path) as f:
                words = f.read().split()
        except FileNotFoundError:
            return None
        if not words:
            return None
        if words[0] == "hang":
            time.sleep(float(words[1]) if len(words) > 1 else 30)
            return None
        return int(words[0])

    def authorized(self):
        want = self.server.user_info
        if want is None:
            return True
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            return base64.b64decode(auth[6:]).decode() == want
        except (ValueError, UnicodeDecodeError):
            return False

    def body_schema(self):
        """The schema of a POST body: (text, parsed JSON), or None once answered."""
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        if ctype not in CONTENT_TYPES:
            self.error(415, 415, f"HTTP 415 Unsupported Media Type: {ctype}")
            return None
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            self.error(400, 400, "Unrecognized token: the body is not JSON")
            return None
        if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
            self.error(422, 42201, "Either schema or schemaType is missing or invalid")
            return None
        if body.get("schemaType", "AVRO") != "AVRO":
            self.error(422, 42201, f"Unsupported schema type {body['schemaType']}")
            return None
        if body.get("references"):
            self.error(422, 42201, "Schema references are not supported by this test registry")
            return None
        text = body["schema"]
        try:
            parsed = json.loads(text)
            avro.schema.parse(text)
        except Exception as e:  # python3-avro raises several kinds
            self.error(422, 42201, f"Invalid schema {text}: {e}")
            return None
        return text, parsed

    def route(self):
        fault = self.control()
        if fault is not None:
            self.error(fault, fault * 100 + 1 if fault >= 500 else fault,
                       f"test registry told to answer {fault}")
            return
        if not self.authorized():
            self.error(401, 401, "Unauthorized")
            return
        store = self.server.store
        parts = [urllib.parse.unquote(p) for p in urllib.parse.urlsplit(self.path).path.split("/")[1:]]
        if self.command == "GET" and parts == ["schemas", "types"]:
            return self.answer(200, ["AVRO"])
        if self.command == "GET" and len(parts) == 3 and parts[:2] == ["schemas", "ids"]:
            try:
                sid = int(parts[2])
            except ValueError:
                return self.error(404, 40403, f"Schema {parts[2]} not found")
            entry = store.by_id.get(sid)
            if entry is None:
                return self.error(404, 40403, f"Schema {sid} not found")
            return self.answer(200, {"schema": entry[0]})
        if self.command == "GET" and parts == ["subjects"]:
            return self.answer(200, sorted(store.subjects))
        if len(parts) >= 2 and parts[0] == "subjects":
            subject = parts[1]
            if self.command == "POST" and len(parts) == 3 and parts[2] == "versions":
                schema = self.body_schema()
                if schema:
                    self.answer(200, {"id": store.register(subject, *schema)})
                return
            if self.command == "POST" and len(parts) == 2:
                schema = self.body_schema()
                if not schema:
                    return
                versions = store.subjects.get(subject)
                if versions is None:
                    return self.error(404, 40401, f"Subject '{subject}' not found.")
                sid = store.find(schema[1])
                if sid is None or sid not in versions:
                    return self.error(404, 40403, "Schema not found")
                return self.answer(200, {"subject": subject, "id": sid,
                                         "version": versions.index(sid) + 1,
                                         "schema": store.by_id[sid][0]})
            versions = store.subjects.get(subject)
            if self.command == "GET" and len(parts) == 3 and parts[2] == "versions":
                if versions is None:
                    return self.error(404, 40401, f"Subject '{subject}' not found.")
                return self.answer(200, list(range(1, len(versions) + 1)))
            if self.command == "GET" and len(parts) == 4 and parts[2] == "versions":
                if versions is None:
                    return self.error(404, 40401, f"Subject '{subject}' not found.")
                v = len(versions) if parts[3] == "latest" else int(parts[3]) if parts[3].isdigit() else 0
                if not 1 <= v <= len(versions):
                    return self.error(404, 40402, f"Version {parts[3]} not found.")
                sid = versions[v - 1]
                return self.answer(200, {"subject": subject, "version": v, "id": sid,
                                         "schema": store.by_id[sid][0]})
        self.error(404, 404, f"HTTP 404 Not Found: {self.command} {self.path}")

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()

    def do_DELETE(self):
        self.error(405, 405, "HTTP 405 Method Not Allowed")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--user-info")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--control")
    ap.add_argument("--log")
    ap.add_argument("--first-id", type=int, default=1)
    ap.add_argument("--state")
    args = ap.parse_args()

    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.store = Store(args.first_id, args.state)
    server.user_info = args.user_info
    server.control = args.control
    server.log_path = args.log
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.rename(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
