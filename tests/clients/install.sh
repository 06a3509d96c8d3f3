#!/usr/bin/env bash
# Installs what the client matrix (tests/clients, tests/clients.rs) needs, only what is missing:
#   - C, Ruby and PHP clients from Debian (libhiredis-dev, ruby-redis, ruby-sidekiq, php-cli,
#     php-redis, php-predis), when running as root (otherwise it prints the apt-get line to run);
#   - the Python clients (requirements.txt) into tests/clients/.venv;
#   - the Node clients (node/package-lock.json) into tests/clients/node/node_modules, and BullMQ
#     (bullmq/package-lock.json) into tests/clients/bullmq/node_modules.
# Fast when everything is there. `make test` and .ci/run call it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fail=0

apt_pkgs=()
[ -f /usr/include/hiredis/hiredis.h ] || apt_pkgs+=(libhiredis-dev)
command -v gcc >/dev/null || apt_pkgs+=(gcc libc6-dev)
command -v openssl >/dev/null || apt_pkgs+=(openssl)  # the TLS scenarios' certificates
{ command -v ruby >/dev/null && ruby -e 'require "redis"' 2>/dev/null; } || apt_pkgs+=(ruby ruby-redis)
{ command -v ruby >/dev/null && ruby -e 'require "sidekiq"' 2>/dev/null; } || apt_pkgs+=(ruby-sidekiq)
{ command -v php >/dev/null && php -r 'exit(extension_loaded("redis") ? 0 : 1);'; } || apt_pkgs+=(php-cli php-redis)
{ command -v php >/dev/null && php -r 'exit((include "Predis/autoload.php") ? 0 : 1);' 2>/dev/null; } || apt_pkgs+=(php-predis)
command -v python3 >/dev/null || apt_pkgs+=(python3 python3-venv)
command -v npm >/dev/null || apt_pkgs+=(nodejs npm)
if [ ${#apt_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "== clients: apt-get install ${apt_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${apt_pkgs[@]}"
  else
    echo "clients: missing system packages; run: sudo apt-get install -y --no-install-recommends ${apt_pkgs[*]}" >&2
    fail=1
  fi
fi

if ! { [ -x "$here/.venv/bin/python" ] && "$here/.venv/bin/python" - "$here/requirements.txt" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        if version(name) != want:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
}; then
  echo "== clients: pip install -r tests/clients/requirements.txt into tests/clients/.venv"
  if command -v python3 >/dev/null && { [ -x "$here/.venv/bin/python" ] || python3 -m venv "$here/.venv"; } \
     && "$here/.venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"; then :; else
    echo "clients: could not set up the venv; run: python3 -m venv tests/clients/.venv && tests/clients/.venv/bin/pip install -r tests/clients/requirements.txt" >&2
    fail=1
  fi
fi

for dir in node bullmq; do
  if ! cmp -s "$here/$dir/package-lock.json" "$here/$dir/node_modules/.package-lock.json" 2>/dev/null \
     && ! [ "$here/$dir/node_modules/.package-lock.json" -nt "$here/$dir/package-lock.json" ]; then
    echo "== clients: npm ci in tests/clients/$dir"
    if ! (command -v npm >/dev/null && cd "$here/$dir" && npm ci --no-audit --no-fund --loglevel=error); then
      echo "clients: npm ci failed; run: (cd tests/clients/$dir && npm ci)" >&2
      fail=1
    fi
  fi
done

exit $fail
