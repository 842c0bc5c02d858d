"""Child process of the cold figure: import the inference handler and answer one request, as a cold Lambda does.

    python -m bench.cold_start EVENT_FILE [METADATA_EVENT_FILE]

Prints each answer's body on a line of its own after ``ANSWER_PREFIX`` (the function's logs share stdout); a second
event, a model metadata request, is for untimed probe runs. Exits 1 when an answer is not a 200.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ANSWER_PREFIX = "ANSWER "


def main(argv: list[str]) -> int:
    # The runtime hands the function a parsed event; reading it first keeps that out of the import being measured.
    events = [json.loads(Path(name).read_text(encoding="utf-8")) for name in argv[1:]]
    from lambdas.inference.handler import lambda_handler

    for event in events:
        response = lambda_handler(event, None)
        if response.get("statusCode") != 200:
            print(f"status {response.get('statusCode')}: {response.get('body')}", file=sys.stderr)
            return 1
        print(ANSWER_PREFIX + response["body"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
