#!/bin/sh
# rollback.sh GOOD: back to version GOOD. The registry first (champion -> GOOD, so whatever restarts loads it);
# then traffic moves only to a server that already answers as GOOD.
. "$(dirname "$0")/lib.sh"
good=$1
registry set champion "$good"
if [ "$(serving stable)" = "$good" ]; then
  weights 100 0                                 # a canary: stable still serves the good version
else                                            # after a promotion: nothing serves it; start one first
  CANARY_REF="models:/tumor@champion" $COMPOSE up -d --no-deps --force-recreate canary
  wait_serving canary "$good" 60
  weights 0 100
  $COMPOSE up -d --no-deps --force-recreate stable
  wait_serving stable "$good" 60
  weights 100 0
fi
$COMPOSE rm -sf canary
registry delete candidate
