#!/bin/sh
# rollback-racy.sh GOOD: an older version of rollback.sh. It restarts stable "to be sure it runs the champion"
# and moves the traffic at once, before the restarted server is ready: requests fail until it is.
. "$(dirname "$0")/lib.sh"
good=$1
registry set champion "$good"
$COMPOSE up -d --no-deps --force-recreate stable
weights 100 0
$COMPOSE rm -sf canary
registry delete candidate
