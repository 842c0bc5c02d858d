"""``python -m bench`` (``make bench``): how fast the functions are, each figure a ratio to a baseline measured
side by side in the same run. Absolute times on a shared, noisy machine mean little; ratios taken from interleaved
measurements do. In-process figures alternate blocks of about 10 ms (ours, baseline, baseline, ours, ...), so drift
hits both alike while each is timed in its own steady state, as a warm function serving requests back to back is;
alternating single calls would instead charge each side for reloading the caches the other just used (a 100-tree
forest's predict evicts nearly everything). Prints a table and writes ``bench/results.json``.

Models are published the way users publish them: uploaded to S3 (a moto server on 127.0.0.1) and applied by the
loader from a real S3 event, once with ``ONNX_FAST_PATH=false`` (the scikit-learn path) and once with ``true`` (the
fast path) into separate model directories. Every row names the runtime that actually answered, read from the
model's V2 metadata, so a fast-path row served by scikit-learn says so.

warm (ratio, lower is better)
    p50 of one V2 infer through ``lambdas.inference.handler.lambda_handler`` (an API Gateway HTTP API 2.0 event,
    model already cached) over the p50 of a bare ``model.predict`` of the same rows in the same process, for a
    logistic regression (LR) and a 100-tree random forest (RF) on iris, one row and a 1,000-row batch.
    Targets (one row): scikit-learn path LR <= 1.3, RF <= 1.05; fast path LR <= 0.5, RF <= 0.05. The batch is
    context. A DataFrame pipeline (OneHotEncoder on 4 string columns, StandardScaler on 6 numeric, then
    LogisticRegression) asked one row with one V2 input per column, against ``pipeline.predict`` of a one-row
    DataFrame: scikit-learn path <= 1.1, fast path <= 0.05. This process runs with ``LOG_LEVEL=WARNING``, which
    only quiets model loads, and metrics on: every prediction writes its per-model metric line, as deployed, to a
    file standing in for the log stream.
cold (ratio, lower is better)
    Median wall time of a fresh process (this venv's Python) that imports the inference handler and answers its
    first V2 request, the model loaded from the model directory, over that of a fresh process that only does
    ``import joblib; joblib.load(path).predict(row)`` on the same file. Both get the same explicit environment
    (the functions' deployed settings, fake AWS credentials). Targets, for both models: fast path <= 0.4,
    scikit-learn path <= 1.1. The DataFrame pipeline of the warm figure too, asked with one V2 input per column,
    against ``joblib.load(path).predict(pandas.DataFrame(row))``: fast path <= 0.3, scikit-learn path <= 1.1.
loader throughput (ratio, higher is better)
    Publishing a ~570 MB model (a brute-force KNN keeping 512 MiB of random training data, saved uncompressed) from
    moto on 127.0.0.1, against ``aws s3 cp`` of the same object from the same server; MB/s each, medians of six
    rounds in rotating order, the page cache synced (untimed) before every run. The target row times a warm loader
    (a process that has already published a small model, as a deployed function has) from the handler's call to its
    return, against the CLI process from start to exit. A context row times a new loader process from start to exit,
    every import included. The CLI is set to fetch with one GET, as the loader does: moto reads the whole object for
    every ranged GET, which makes the CLI's default parallel download ~10x slower here than on S3. Target >= 0.9.
    The loader runs with ``ONNX_FAST_PATH=true``, the deployed default (the large model is above the size it
    converts).
loader peak memory (MB, lower is better)
    Peak anonymous memory (``RssAnon``, sampled every 2 ms) of the new loader process that published only the large
    model, the memory it allocates; the CLI's is the baseline. Target: <= 200 MB. Context rows give its peak RSS,
    which also counts the model's file pages it read through the memory map while checking that the model answers
    (clean page cache, which the kernel drops under pressure), and the warm loader's peak RSS, whose earlier
    conversion of a small model to ONNX loaded the converter's libraries.
local stack (requests per second, context)
    ``local_stack`` (as ``make serve`` runs it, ``ONNX_FAST_PATH=true``) on free loopback ports, the LR model
    published through it with the aws CLI, then 8 threads each POSTing one-row V2 infers over a keep-alive
    ``http.client`` connection for 10 s; the record also counts the connections the clients had to open. No
    baseline: its ratio and baseline are null.

serving (ratio, lower is better; shares and delivery, bounds on ours)
    The 1-row LR fast path through the handler with a model's serving settings against the same model without:
    routing by 90/10 weights <= 1.02, capture at 100 % <= 1.10, capture at 0 % <= 1.01. Over 10,000 requests
    without a route key, a 90/10 split gives version 2 within 1.5 points of 10 %, and capture at 10 % captures
    within 1 point of 10 %. Through the local stack, capture at 100 % over 10,000 requests: 10,000 records arrive in
    the data bucket.

batch (rows per second, higher is better)
    One batch worker on a 20,000-row CSV chunk in memory (its lines found, decoded by the model's signature,
    answered, encoded as answer lines) against ``pandas.read_csv`` + ``predict`` + ``to_csv`` of the same bytes,
    for LR, RF and the DataFrame pipeline on the runtime the loader published each for: >= 1.0.

Options: ``--only warm,cold,loader,stack,serving,batch`` runs some figures; ``--quick`` runs every figure with few
iterations and a small loader object, to check the harness itself (its numbers are not figures to quote).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

FIGURES = ("warm", "cold", "loader", "stack", "serving", "batch")
RESULTS = Path(__file__).resolve().parent / "results.json"
# Model loads log; in this process that would only interleave noise with the table. Metrics stay on, as deployed:
# the functions' output (metric lines, capture records) goes to a file, as a function's goes to its log stream.
QUIET = {"LOG_LEVEL": "WARNING", "POWERTOOLS_LOG_LEVEL": "WARNING"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--only", default=",".join(FIGURES), help=f"comma-separated subset of {', '.join(FIGURES)}")
    parser.add_argument("--quick", action="store_true", help="few iterations and a small object: checks the harness")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the JSON records")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.only) - set(FIGURES))
    if unknown:
        parser.error(f"unknown figures {unknown}; choose from {', '.join(FIGURES)}")
    return args


def _exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # By default SIGTERM ends the process at once, skipping the finally blocks that stop servers and children.
    signal.signal(signal.SIGTERM, _exit)
    os.environ.update(QUIET)
    # Imported after the environment is set: the functions' loggers read it once, on import.
    from bench.runner import Plan, run
    from bench.timing import BenchError

    started = time.monotonic()
    plan = Plan.quick() if args.quick else Plan()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-") as scratch,
            (Path(scratch) / "functions.log").open("w") as log,
            contextlib.redirect_stdout(log),
        ):
            figures = run(args.only, plan, Path(scratch), progress)
    except BenchError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    from bench.results import table, write_results

    write_results(figures, args.output)
    quick = " (--quick: a check of the harness, not figures to quote)" if args.quick else ""
    print(
        f"\nbench {time.strftime('%Y-%m-%d %H:%M %Z')}, {time.monotonic() - started:.0f} s, Python "
        f"{sys.version.split()[0]}{quick}; ratios are ours / baseline from interleaved runs\n"
    )
    print(table(figures))
    print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
