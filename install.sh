#!/usr/bin/env bash
# One install command: the system tool the image bootstrap needs, then this package (test, dev, mlflow, docs extras)
# into the active Python environment. Safe to run twice.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v debootstrap >/dev/null 2>&1 && [ ! -x /usr/sbin/debootstrap ]; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null; }
  else
    echo "note: debootstrap is missing; without a registry, run: sudo apt-get install -y debootstrap" >&2
  fi
fi
# The mlflow extra too, so the MLflow tests run (under CI=true they must not skip); docs for the site's build.
python3 -m pip install -q -e '.[test,dev,mlflow,docs]'
echo "installed: $(command -v drill || echo 'drill (activate your environment to get it on PATH)')"
