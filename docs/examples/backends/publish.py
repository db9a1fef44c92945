"""Publish to Hubbub from a Python backend with the standard library only.

Run: HUBBUB_URL=http://localhost:8080 HUBBUB_API_KEY=... HUBBUB_TOKEN_SECRET=... python3 publish.py
"""
import base64
import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

URL = os.environ["HUBBUB_URL"].rstrip("/")
API_KEY = os.environ["HUBBUB_API_KEY"]
TOKEN_SECRET = os.environ["HUBBUB_TOKEN_SECRET"]


class HubbubError(Exception):
    """A refusal: `code` comes from the error table (unauthorized, forbidden, rate_limited...)."""

    def __init__(self, status: int, error: dict):
        super().__init__(f"{error['code']} ({status}): {error['message']}")
        self.status, self.code, self.retryable = status, error["code"], error["retryable"]


def api(method: str, path: str, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(URL + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {API_KEY}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return json.load(res)
    except urllib.error.HTTPError as e:
        raise HubbubError(e.code, json.load(e)) from None


def publish(channel: str, data, **options):  # options: idempotencyKey, tags
    return api("POST", "/api/publish", {"channel": channel, "data": data, **options})


def broadcast(channels: list, data, **options):
    return api("POST", "/api/broadcast", {"channels": channels, "data": data, **options})


def history(channel: str, limit: int = 100):
    return api("GET", f"/api/channels/{urllib.parse.quote(channel, safe='')}/history?limit={limit}")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def user_token(user: str, ttl: int = 15 * 60) -> str:
    """A connection token (HS256 JWT); with PyJWT: jwt.encode(claims, TOKEN_SECRET, algorithm="HS256")."""
    now = int(time.time())
    claims = {"sub": user, "iat": now, "exp": now + ttl, "channels": [f"notifications:#{user}"]}
    signed = f"{b64url(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = hmac.new(TOKEN_SECRET.encode(), signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{b64url(signature)}"


if __name__ == "__main__":
    print(json.dumps({"published": publish("chat:lobby", {"text": "hello from Python"})}))
    # A retry with the same key (a timeout, a re-run job) publishes nothing twice: same positions.
    alert = {"text": "deploy 42 finished"}
    print(json.dumps({"broadcast": broadcast(["chat:lobby", "ops:alerts"], alert, idempotencyKey="deploy-42")}))
    print(json.dumps({"retried": broadcast(["chat:lobby", "ops:alerts"], alert, idempotencyKey="deploy-42")}))
    print(json.dumps({"history": history("chat:lobby", limit=10)}))
    print(json.dumps({"token": user_token("ada")}))
