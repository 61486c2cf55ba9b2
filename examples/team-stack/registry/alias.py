"""The team's registry helper: ``alias.py get ALIAS``, ``set ALIAS VERSION``, ``delete ALIAS`` (MLflow 3 client)."""

import os
import sys

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

client = MlflowClient("http://localhost:5000")
name = os.environ.get("MODEL_NAME", "tumor")
op, alias = sys.argv[1], sys.argv[2]
if op == "get":
    try:
        print(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        sys.exit(f"no alias {alias!r}")
elif op == "set":
    client.set_registered_model_alias(name, alias, sys.argv[3])
    print(f"{name}@{alias} -> {sys.argv[3]}")
elif op == "delete":
    try:
        client.delete_registered_model_alias(name, alias)
    except MlflowException:
        pass
    print(f"{name}@{alias} deleted")
else:
    sys.exit(f"unknown operation {op!r}")
