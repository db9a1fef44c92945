#!/usr/bin/env bash
# Publish from a shell script without HTTP or an API key, through the node's ingest doors
# (docs/ingest.md): one JSON line to its Unix socket (`hubbub serve --ingest-unix PATH`), which
# answers with the position, and one datagram to its UDP door (`--ingest-udp 127.0.0.1:8125`),
# which answers nothing: UDP is at most once.
# Run: HUBBUB_SOCKET=/run/hubbub.sock HUBBUB_UDP_PORT=8125 bash publish-nc.sh
set -euo pipefail

# -N: nc exits once the reply is in (netcat-openbsd).
reply=$(echo '{"channel":"ops:alerts","data":{"text":"disk full on db1"}}' | nc -N -U "$HUBBUB_SOCKET")
echo "{\"unix\": $reply}"
case $reply in *'"error"'*) exit 1 ;; esac

# -q0: nc quits right after sending, not before (-w0 may quit with the datagram still unsent).
echo '{"channel":"ops:alerts","event":"deploy","data":{"text":"deploy 42 finished"}}' | nc -u -q0 127.0.0.1 "$HUBBUB_UDP_PORT"
echo '{"udp": "sent"}'
