#!/bin/sh
# rollback-pinned.sh GOOD: a quick fix someone wrote at 3 a.m.: start a server pinned to version GOOD and send it
# all the traffic. Traffic is fine; the registry still names the bad version champion, so the next restart
# of any server brings the bad version back.
. "$(dirname "$0")/lib.sh"
good=$1
CANARY_REF="models:/tumor/$good" $COMPOSE up -d --no-deps --force-recreate canary
wait_serving canary "$good" 60
weights 0 100
