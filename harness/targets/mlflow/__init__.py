"""The MLflow target: a real MLflow tracking/registry server in the run's stack, real model versions
(scikit-learn / pyfunc, logged with signatures), and the registry adapter behind ``ports.ModelRegistry``.

Needs the ``mlflow`` extra on the host (``pip install 'drill-harness[mlflow]'``); modules here import
MLflow lazily so the core install never needs it.
"""
