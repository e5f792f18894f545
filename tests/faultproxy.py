"""An HTTP proxy on loopback that injects faults in front of a real Airflow API server.

Rules pick requests by method and path fragment and either answer an error without forwarding
(500/502/503/429 with Retry-After, a reset connection, a slow answer) or forward first and then
lose the answer (the request took effect but the client saw a 502: the case that would trigger a
run twice without an idempotent trigger).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


@dataclass
class Rule:
    method: str
    fragment: str
    action: str  # "status:<code>", "reset", "slow:<seconds>", "lose-answer"
    times: int = 1
    used: int = 0


@dataclass
class FaultProxy:
    upstream: str
    rules: list[Rule] = field(default_factory=list)
    log: list[tuple[str, str, str]] = field(default_factory=list)

    def start(self) -> str:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                rule = proxy._match(self.command, self.path)
                proxy.log.append((self.command, self.path, rule.action if rule else "pass"))
                if rule and rule.action == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    return
                if rule and rule.action.startswith("status:"):
                    code = int(rule.action.split(":")[1])
                    payload = b'{"detail": "injected fault"}'
                    self.send_response(code)
                    if code == 429:
                        self.send_header("Retry-After", "0")
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if rule and rule.action.startswith("slow:"):
                    time.sleep(float(rule.action.split(":")[1]))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = requests.request(self.command, proxy.upstream + self.path, data=body, headers=headers,
                                          timeout=60)
                if rule and rule.action == "lose-answer":
                    self.send_response(502)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _match(self, method: str, path: str) -> Rule | None:
        for rule in self.rules:
            if rule.method == method and rule.fragment in path and rule.used < rule.times:
                rule.used += 1
                return rule
        return None

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
