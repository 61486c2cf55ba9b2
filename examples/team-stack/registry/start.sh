#!/bin/sh
# MLflow 3's server answers 403 to a Host it does not know: name every way the team reaches it.
set -eu
mlflow server --host 0.0.0.0 --port 5000 --workers 1 \
    --backend-store-uri sqlite:////mlflow/mlflow.db --artifacts-destination /mlflow/artifacts \
    --allowed-hosts "registry,registry:5000,localhost,localhost:5000,127.0.0.1,127.0.0.1:*,localhost:*" &
server=$!
python3 /opt/team/seed.py   # the model's versions and aliases, once (the database outlives a stop/start)
wait "$server"
