#!/bin/sh
# deploy-canary.sh VERSION WEIGHT: the canary loads models:/tumor@candidate (VERSION), then takes WEIGHT % of traffic.
. "$(dirname "$0")/lib.sh"
version=$1 weight=$2
registry set candidate "$version"
$COMPOSE up -d --no-deps --force-recreate canary
wait_serving canary "$version" 60
weights $((100 - weight)) "$weight"
