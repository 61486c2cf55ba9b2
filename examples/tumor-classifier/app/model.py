"""Training recipes for the tumour classifier, on scikit-learn's bundled breast cancer data set.

The split is fixed (``random_state=0``, 30 % held out): ``requests.jsonl`` holds the held-out rows
with their true labels, so a drill can compare how often each version answers wrong.

Recipes:
  full    a scaled logistic regression on the whole training split (the good versions; the seed
          picks a bootstrap sample, so v1 and v2 differ a little, as retrained models do)
  biased  the same pipeline trained on the 10 rows with the highest "mean smoothness" only (one
          scanner's export, say): a genuinely worse model (about 68 % accurate against about 95 %),
          the kind a broken data pipeline produces
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

RECIPES = ("full", "biased")


def dataset() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str], list[str]]:
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, random_state=0, stratify=data.target)
    return x_train, x_test, y_train, y_test, list(data.feature_names), list(data.target_names)


def train(recipe: str, seed: int) -> tuple[Pipeline, float]:
    """The fitted pipeline and its accuracy on the held-out split."""
    x_train, x_test, y_train, y_test, _, _ = dataset()
    rng = np.random.default_rng(seed)
    if recipe == "full":
        rows = rng.choice(len(x_train), size=len(x_train), replace=True)
    elif recipe == "biased":
        rows = np.argsort(x_train[:, 4])[-10:]  # column 4: "mean smoothness"
    else:
        raise ValueError(f"unknown recipe {recipe!r}; known: {', '.join(RECIPES)}")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(x_train[rows], y_train[rows])
    return model, float(model.score(x_test, y_test))
