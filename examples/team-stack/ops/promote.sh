#!/bin/sh
# promote.sh: the canary's version becomes the champion; stable restarts on it; the canary goes away.
. "$(dirname "$0")/lib.sh"
new=$(registry get candidate)
old=$(registry get champion)
weights 0 100                                   # the canary carries everything while stable restarts
registry set previous "$old"
registry set champion "$new"
$COMPOSE up -d --no-deps --force-recreate stable
wait_serving stable "$new" 60
weights 100 0
$COMPOSE rm -sf canary
registry delete candidate
