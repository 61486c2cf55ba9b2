"""Write the held-out split as drill requests: one JSON object a line, ``{"body": ..., "expect": ...}``.

    python -m app.export_requests > requests.jsonl
"""

from __future__ import annotations

import json

from app.model import dataset


def main() -> None:
    _, x_test, _, y_test, features, classes = dataset()
    for row, label in zip(x_test, y_test):
        body = {"features": {name: round(float(value), 6) for name, value in zip(features, row)}}
        print(json.dumps({"body": body, "expect": classes[int(label)]}))


if __name__ == "__main__":
    main()
