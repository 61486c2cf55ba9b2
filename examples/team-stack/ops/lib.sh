# The team's helpers, sourced by the ops scripts. $COMPOSE is the Compose command line (drill sets it, with
# COMPOSE_PROJECT_NAME and COMPOSE_FILE for the run's project); by hand it is `docker compose`.
set -eu
COMPOSE=${COMPOSE:-docker compose}
registry() { $COMPOSE exec -T registry python3 /opt/team/alias.py "$@"; }
weights() { $COMPOSE exec -T gateway sh /opt/team/weights.sh "$@"; }
# The version a server answers with (nothing while it is down or loading).
serving() {
  $COMPOSE exec -T "$1" python3 -c 'import json, urllib.request
print(json.load(urllib.request.urlopen("http://localhost:8080/healthz", timeout=2))["version"])' 2>/dev/null || true
}
# wait_serving SERVICE VERSION [SECONDS]: until the server answers as that version.
wait_serving() {
  deadline=$(( $(date +%s) + ${3:-60} ))
  until [ "$(serving "$1")" = "$2" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "$1 does not serve version $2" >&2; return 1; }
    sleep 0.3
  done
  echo "$1 serves version $2"
}
