"""The team's registry helper: ``alias.py get ALIAS``, ``set ALIAS VERSION``, ``delete ALIAS``.

MLflow 3's REST API from the standard library: quick to start beside the server, which matters inside a
rollback (importing the mlflow client takes seconds and hundreds of megabytes).
"""

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

URI = "http://127.0.0.1:5000/api/2.0/mlflow/registered-models/alias"
NAME = os.environ.get("MODEL_NAME", "tumor")


def call(method: str, query: dict[str, str] | None = None, body: dict[str, str] | None = None) -> dict:
    url = URI + ("?" + urllib.parse.urlencode(query) if query else "")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read() or b"{}")


op, alias = sys.argv[1], sys.argv[2]
try:
    if op == "get":
        print(call("GET", {"name": NAME, "alias": alias})["model_version"]["version"])
    elif op == "set":
        call("POST", body={"name": NAME, "alias": alias, "version": sys.argv[3]})
        print(f"{NAME}@{alias} -> {sys.argv[3]}")
    elif op == "delete":
        call("DELETE", body={"name": NAME, "alias": alias})  # MLflow reads a DELETE's parameters from its body
        print(f"{NAME}@{alias} deleted")
    else:
        sys.exit(f"unknown operation {op!r}")
except urllib.error.HTTPError as exc:
    if op == "delete" and exc.code == 404:
        print(f"{NAME}@{alias}: none to delete")
    else:
        sys.exit(f"registry: {op} {alias}: {exc.code} {exc.read()[:200]!r}")
except OSError as exc:
    sys.exit(f"registry unreachable: {exc}")
