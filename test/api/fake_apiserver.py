#!/usr/bin/env python3
"""A Kubernetes API server of our own that misbehaves on purpose.

It speaks the real wire format for what svcnft reads (Services, EndpointSlices,
Nodes: paged lists with continue, watches as chunked JSON lines with bookmarks,
Status errors, discovery for kubectl) over HTTPS with bearer tokens, and a test
tells it, through /_test/ paths, to change objects and to fail the next request
of a kind in a chosen way:

  on list or watch-start (the next such request):
    status    answer with an HTTP status (and Retry-After) and a Status body
    hang      (list) answer nothing for N seconds first
  on watch (the watches open now):
    expired   one ERROR event with code 410 (Expired), then the end
    garbage   a line that is not JSON, then the end
    end       a clean end of the stream
    cut       the next event is cut mid-line and the connection dropped
    trickle   the next event is sent one byte every 20 ms

Usage: fake_apiserver.py CERT KEY PORTFILE   (listens on 127.0.0.1, a free port)
"""
import gzip
import json
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RESOURCES = {
    "/api/v1/services": ("services", "Service", "v1"),
    "/apis/discovery.k8s.io/v1/endpointslices": ("endpointslices", "EndpointSlice",
                                                 "discovery.k8s.io/v1"),
    "/api/v1/nodes": ("nodes", "Node", "v1"),
}

lock = threading.Condition()
rv = 100
objects = {"services": {}, "endpointslices": {}, "nodes": {}}
events = []  # (rv, resource, type, object)
faults = []  # dicts with "on": "list"|"watch", "resource", ...
tokens = {"token-a"}
requests_seen = []


def key(obj):
    m = obj["metadata"]
    return m.get("namespace", "") + "/" + m["name"]


def change(resource, kind, obj, typ):
    global rv
    with lock:
        rv += 1
        obj = json.loads(json.dumps(obj))
        obj["metadata"]["resourceVersion"] = str(rv)
        if typ == "DELETED":
            objects[resource].pop(key(obj), None)
        else:
            typ = "MODIFIED" if key(obj) in objects[resource] else "ADDED"
            objects[resource][key(obj)] = obj
        events.append((rv, resource, typ, obj))
        lock.notify_all()


def take_fault(on, resource):
    with lock:
        for i, f in enumerate(faults):
            if f["on"] == on and f.get("resource", resource) == resource:
                return faults.pop(i)
    return None


def matches(obj, selector):
    """The two selectors svcnft sends: !label,... and metadata.name=NAME."""
    labels = obj["metadata"].get("labels", {})
    for term in filter(None, selector.get("labelSelector", "").split(",")):
        if term.startswith("!") and term[1:] in labels:
            return False
    field = selector.get("fieldSelector", "")
    if field.startswith("metadata.name=") and obj["metadata"]["name"] != field.split("=", 1)[1]:
        return False
    return True


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, code, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        for k, v in headers:
            self.send_header(k, v)
        if "gzip" in self.headers.get("Accept-Encoding", "") and len(data) > 256:
            data = gzip.compress(data)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        path = urllib.parse.urlparse(self.path).path
        if path == "/_test/apply":
            resource, kind, _ = RESOURCES[body["path"]]
            change(resource, kind, body["object"], "ADDED")
        elif path == "/_test/delete":
            resource, kind, _ = RESOURCES[body["path"]]
            change(resource, kind, body["object"], "DELETED")
        elif path == "/_test/fault":
            with lock:
                faults.append(body)
        elif path == "/_test/tokens":
            with lock:
                tokens.clear()
                tokens.update(body["tokens"])
        elif path == "/_test/requests":
            with lock:
                self.send_json(200, {"requests": requests_seen})
            return
        else:
            self.send_json(404, status(404, "NotFound", path))
            return
        self.send_json(200, {"ok": True})

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        with lock:
            requests_seen.append(self.path)
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[len("Bearer "):] not in tokens:
            self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
            return
        if url.path in ("/api", "/api/"):
            self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                 "serverAddressByClientCIDRs": [
                                     {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
            return
        if url.path == "/apis":
            self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": "discovery.k8s.io",
                 "versions": [{"groupVersion": "discovery.k8s.io/v1", "version": "v1"}],
                 "preferredVersion": {"groupVersion": "discovery.k8s.io/v1", "version": "v1"}}]})
            return
        if url.path == "/api/v1":
            self.send_json(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": "services", "singularName": "service", "namespaced": True,
                 "kind": "Service", "verbs": ["get", "list", "watch"], "shortNames": ["svc"]},
                {"name": "nodes", "singularName": "node", "namespaced": False, "kind": "Node",
                 "verbs": ["get", "list", "watch"]}]})
            return
        if url.path == "/apis/discovery.k8s.io/v1":
            self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                 "groupVersion": "discovery.k8s.io/v1", "resources": [
                {"name": "endpointslices", "singularName": "endpointslice", "namespaced": True,
                 "kind": "EndpointSlice", "verbs": ["get", "list", "watch"]}]})
            return
        if url.path not in RESOURCES:
            self.send_json(404, status(404, "NotFound", "the server could not find " + url.path))
            return
        resource, kind, api = RESOURCES[url.path]
        if query.get("watch", "").lower() in ("true", "t", "1"):  # Go's ParseBool
            self.watch(resource, kind, api, query)
        else:
            self.list(resource, kind, api, query)

    def list(self, resource, kind, api, query):
        fault = take_fault("list", resource)
        if fault and "hang" in fault:
            time.sleep(fault["hang"])
        if fault and "status" in fault:
            headers = [("Retry-After", str(fault["retryAfter"]))] if "retryAfter" in fault else []
            self.send_json(fault["status"], status(fault["status"], "Fault", "injected"), headers)
            return
        with lock:
            items = sorted((o for o in objects[resource].values() if matches(o, query)), key=key)
            version = str(rv)
        start = int(query.get("continue") or 0)
        limit = int(query.get("limit") or 0) or len(items) or 1
        page = items[start:start + limit]
        meta = {"resourceVersion": version}
        if start + limit < len(items):
            meta["continue"] = str(start + limit)
            meta["remainingItemCount"] = len(items) - start - limit
        self.send_json(200, {"kind": kind + "List", "apiVersion": api, "metadata": meta,
                             "items": page})

    def watch(self, resource, kind, api, query):
        fault = take_fault("watch-start", resource)
        if fault and "status" in fault:
            headers = [("Retry-After", str(fault["retryAfter"]))] if "retryAfter" in fault else []
            self.send_json(fault["status"], status(fault["status"], "Fault", "injected"), headers)
            return
        since = int(query.get("resourceVersion") or 0)
        deadline = time.time() + min(int(query.get("timeoutSeconds") or 30), 30)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def line(obj):
            return (json.dumps(obj) + "\n").encode()

        sent_bookmark = time.time()
        cut = trickle = False
        while time.time() < deadline:
            # Faults for watches act on the streams open now.
            fault = take_fault("watch", resource)
            if fault and fault.get("expired"):
                self.chunk(line({"type": "ERROR", "object": status(
                    410, "Expired", "The resourceVersion for the provided watch is too old.")}))
                self.chunk(b"")
                return
            if fault and fault.get("garbage"):
                self.chunk(b'{"type":"ADDED","object":{"metadata":\n')
                self.chunk(b"")
                return
            if fault and fault.get("end"):
                self.chunk(b"")
                return
            cut = cut or bool(fault and fault.get("cut"))
            trickle = trickle or bool(fault and fault.get("trickle"))
            with lock:
                pending = [(v, t, o) for (v, r, t, o) in events if r == resource and v > since]
                if not pending:
                    lock.wait(0.2)
            for v, t, o in pending:
                since = v
                if not matches(o, query):
                    t = "DELETED"  # an object that leaves the selector arrives as DELETED
                data = line({"type": t, "object": dict(o, kind=kind, apiVersion=api)})
                if cut:
                    self.chunk(data[: len(data) // 2])
                    self.connection.shutdown(2)  # mid-line, and no last chunk
                    self.close_connection = True
                    return
                if trickle:
                    for i in range(len(data)):
                        self.chunk(data[i:i + 1])
                        time.sleep(0.02)
                    trickle = False
                    continue
                self.chunk(data)
            if query.get("allowWatchBookmarks") == "true" and time.time() - sent_bookmark > 1:
                with lock:
                    mark = {"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api,
                                                           "metadata": {"resourceVersion": str(rv)}}}
                self.chunk(line(mark))
                sent_bookmark = time.time()
        self.chunk(b"")


def main():
    cert, keyfile, portfile = sys.argv[1:4]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, keyfile)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    server.serve_forever()


if __name__ == "__main__":
    main()
