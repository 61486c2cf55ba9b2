#!/usr/bin/env sh
# The registry's MLflow 3 as wheels in registry/wheels/, fetched on the host: containers here cannot reach the
# Python package index over TLS. Wheels for CPython 3.11 on x86-64 Linux (the Debian base's python3); pip comes
# along, since the base has python3 but no pip. Run once before the first drill (CI does: .ci/run).
set -eu
cd "$(dirname "$0")"
PIP="${PIP:-python3 -m pip}"
$PIP download --quiet --only-binary=:all: --python-version 3.11 --implementation cp \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    -d registry/wheels/ mlflow==3.17.2 pip==24.3.1
echo "registry/wheels/: $(ls registry/wheels | wc -l) files, $(du -sh registry/wheels | cut -f1)"
