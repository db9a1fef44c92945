"""A Hubbub webhook receiver in a Python backend, standard library only (docs/webhooks.md).

Usage: HUBBUB_WEBHOOK_SECRET=... PORT=8000 python3 docs/examples/webhook_receiver.py
POST /events: verifies the signature, prints each event as a JSON line, answers 204.
POST /publish-proxy: verifies the signature, rejects data that mentions "spam", accepts the rest.
"""
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ["HUBBUB_WEBHOOK_SECRET"].encode()
TOLERANCE_S = 300
seen = set()  # delivery is at least once: skip events already handled (keep this in your database)


def verify(body: bytes, header: str) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - t) > TOLERANCE_S:
        return False  # too old: a replay
    expected = hmac.new(SECRET, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not verify(body, self.headers.get("Hubbub-Signature", "")):
            return self.answer(401, {"error": "bad signature"})
        payload = json.loads(body)
        if self.path == "/events":
            for event in payload["events"]:
                if event["id"] not in seen:
                    seen.add(event["id"])
                    print(json.dumps(event), flush=True)
            return self.answer(204)
        if self.path == "/publish-proxy":
            if "spam" in json.dumps(payload["data"]):
                return self.answer(200, {"error": {"message": "no spam, please"}})
            return self.answer(200, {"result": {}})
        self.answer(404)

    def answer(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8000"))), Handler)
    print(f"listening on {server.server_address[1]}", file=sys.stderr, flush=True)
    server.serve_forever()
