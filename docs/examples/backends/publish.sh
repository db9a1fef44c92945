#!/usr/bin/env bash
# Publish to Hubbub from a shell: curl for the REST API, the hubbub command for scripts and cron.
# Run: HUBBUB_URL=http://localhost:8080 HUBBUB_API_KEY=... HUBBUB_TOKEN_SECRET=... bash publish.sh
set -euo pipefail

# Prints the JSON answer; a refusal prints {"code","message","retryable"} to stderr and fails.
hubbub_api() { # PATH [JSON body, then it is a POST]
  local answer
  answer=$(curl -sS --fail-with-body "$HUBBUB_URL$1" -H "Authorization: Bearer $HUBBUB_API_KEY" \
    ${2:+-H 'Content-Type: application/json' --data-raw "$2"}) || { echo "$answer" >&2; return 1; }
  echo "$answer"
}

published=$(hubbub_api /api/publish '{"channel":"chat:lobby","data":{"text":"hello from curl"}}')
echo "{\"published\": $published}"
# A retry with the same key (a timeout, a re-run job) publishes nothing twice: same positions.
alert='{"channels":["chat:lobby","ops:alerts"],"data":{"text":"deploy 42 finished"},"idempotencyKey":"deploy-42"}'
broadcast=$(hubbub_api /api/broadcast "$alert")
retried=$(hubbub_api /api/broadcast "$alert")
echo "{\"broadcast\": $broadcast}"
echo "{\"retried\": $retried}"

# The hubbub command (docs/cli.md) reads HUBBUB_URL and HUBBUB_API_KEY too and prints <epoch>:<offset>.
position=$(hubbub publish chat:lobby '{"text":"hello from hubbub publish"}')
echo "{\"cli\": \"$position\"}"
# One publication per line of stdin, e.g. a cron job's report; with a key, a re-run sends only what is missing.
printf '%s\n' '{"text":"backup done"}' '{"text":"disk 71% full"}' |
  hubbub publish ops:alerts - --idempotency-key "nightly-$(date +%F)" |
  while read -r position; do echo "{\"cli\": \"$position\"}"; done

history=$(hubbub_api '/api/channels/chat:lobby/history?limit=10')
echo "{\"history\": $history}"
# A user token, signed with HUBBUB_TOKEN_SECRET as the server verifies it.
token=$(hubbub token --user ada --channels 'notifications:#ada' --ttl 15m)
echo "{\"token\": \"$token\"}"
