"""Mint Hubbub tokens in a Python backend with PyJWT (Debian: apt-get install python3-jwt).

Usage: HUBBUB_TOKEN_SECRET=... python3 docs/examples/mint_token.py <user> [channel]
With a channel it mints a subscription token for that channel, else a connection token.
"""
import os
import sys
import time

import jwt

SECRET = os.environ["HUBBUB_TOKEN_SECRET"]


def connection_token(user: str, info: dict) -> str:
    now = int(time.time())
    claims = {"sub": user, "iat": now, "exp": now + 15 * 60, "info": info, "channels": [f"notifications:#{user}"]}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def subscription_token(user: str, channel: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": user, "channel": channel, "iat": now, "exp": now + 15 * 60}, SECRET, algorithm="HS256")


if __name__ == "__main__":
    user = sys.argv[1]
    print(subscription_token(user, sys.argv[2]) if len(sys.argv) > 2 else connection_token(user, {"name": user}))
