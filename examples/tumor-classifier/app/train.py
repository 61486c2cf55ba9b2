"""Train one version of the tumour classifier and write it where the server loads it from.

    python -m app.train --recipe full --seed 2 --version v2 --out /srv/model

Writes ``model.joblib`` and ``meta.json`` (version, recipe, seed, held-out accuracy).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import joblib

from app.model import RECIPES, dataset, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipe", choices=RECIPES, default="full")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--version", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    model, accuracy = train(args.recipe, args.seed)
    _, _, _, _, features, classes = dataset()
    args.out.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, args.out / "model.joblib")
    meta = {"version": args.version, "recipe": args.recipe, "seed": args.seed, "accuracy": round(accuracy, 4),
            "features": features, "classes": classes}
    (args.out / "meta.json").write_text(json.dumps(meta, indent=2))
    print(f"trained {args.version} ({args.recipe}, seed {args.seed}): held-out accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
