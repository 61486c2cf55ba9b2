#!/usr/bin/env sh
# Download the server's dependencies as wheels into wheels/, on the host, for the image build.
# The build then installs from wheels/ without reaching the package index (useful where containers
# cannot: a proxy, a private CA, no network). Wheels are for CPython 3.11 on x86-64 Linux, the
# Python of the base image. pip itself comes along: a Debian base has python3 but no pip.
set -eu
cd "$(dirname "$0")"
PIP="${PIP:-python3 -m pip}"
$PIP download --quiet --only-binary=:all: --python-version 3.11 --implementation cp \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    -d wheels/ -r requirements.txt pip==24.3.1
echo "wheels/: $(ls wheels | wc -l) files, $(du -sh wheels | cut -f1)"
