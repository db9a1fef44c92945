#!/usr/bin/env bash
# The one test command (README, CI): installs what is missing, then runs the typecheck,
# vitest and Playwright, and ends with a line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tmp

missing=()
command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# The token-minting examples of docs/security.md run in the tests with Debian's interpreters.
/usr/bin/python3 -c 'import jwt' >/dev/null 2>&1 || missing+=(python3-jwt)
command -v php >/dev/null 2>&1 || missing+=(php-cli)
# The backend examples of docs/backends.md (test/backends.test.ts): PHP's curl extension, Ruby and Go.
php -r 'exit(function_exists("curl_init") ? 0 : 1);' >/dev/null 2>&1 || missing+=(php-curl)
command -v ruby >/dev/null 2>&1 || missing+=(ruby)
command -v go >/dev/null 2>&1 || missing+=(golang-go)
# test/tls.test.ts makes its self-signed certificates with openssl.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# test/nginx.test.ts and e2e/nginx.spec.ts run docs/deploy/nginx.conf in Debian's nginx.
[ -x /usr/sbin/nginx ] || missing+=(nginx)
# test/ingest-*.test.ts and docs/ingest.md's examples publish with netcat-openbsd (nc -U, nc -u).
nc -h 2>&1 | grep -q 'UNIX domain' || missing+=(netcat-openbsd)
# test/deploy-docs.test.ts checks docs/deploy/hubbub.service with systemd's own verifier.
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "== installing ${missing[*]} with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || {
      echo "apt-get install ${missing[*]} failed"; echo "0 passed, 1 failed"; exit 1; }
  else
    echo "missing: ${missing[*]}. Install them with: sudo apt-get install -y ${missing[*]}"
    echo "0 passed, 1 failed"
    exit 1
  fi
fi

echo "== typecheck (tsc --noEmit)"
if npx tsc --noEmit -p tsconfig.json; then typecheck=0; else typecheck=1; fi

echo "== vitest"
rm -f .tmp/vitest.json test-results/playwright.json
npx vitest run --reporter=default --reporter=json --outputFile.json=.tmp/vitest.json
echo "== playwright (Debian chromium)"
npx playwright test

npx tsx test/summarize.ts "$typecheck" .tmp/vitest.json test-results/playwright.json
