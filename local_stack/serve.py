"""``python -m local_stack.serve``: run the local stack in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import shutil
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from local_stack.authorization import authorization_type
from local_stack.stack import (
    BATCH_HANDLER,
    DEFAULT_MODEL_DIR,
    INFERENCE_HANDLER,
    LOADER_HANDLER,
    LocalStack,
    StackConfig,
)

READY_LINE = "READY"
EXAMPLE_V2_REQUEST = {
    "inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}]
}


def _env_count(name: str, default: int) -> int:
    """A positive count from the environment, else ``default``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"{name} must be a whole number of at least 1, got {raw!r}")
    return int(raw)


def _env_port(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a port number, got {raw!r}") from None
    if not 0 <= port <= 65535:
        raise SystemExit(f"{name} must be between 0 and 65535, got {port}")
    return port


def _authorization(value: str) -> str:
    try:
        return authorization_type(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.serve",
        description="S3 (moto) with notifications driving the loader, and the inference API, all on 127.0.0.1.",
    )
    parser.add_argument(
        "--s3-port", type=int, default=_env_port("LOCAL_S3_PORT", 4566), help="S3 port; 0 picks a free one"
    )
    parser.add_argument(
        "--http-port", type=int, default=_env_port("LOCAL_HTTP_PORT", 8080), help="inference port; 0 picks a free one"
    )
    parser.add_argument("--bucket", default=os.environ.get("LOCAL_BUCKET", "models"), help="model bucket name")
    parser.add_argument(
        "--data-bucket",
        default=os.environ.get("LOCAL_DATA_BUCKET", "data"),
        help="data bucket name (captured requests under capture/)",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=Path(os.environ.get("LOCAL_MODEL_DIR", str(DEFAULT_MODEL_DIR))),
        help="directory standing in for EFS (MODEL_DIR of both functions)",
    )
    parser.add_argument(
        "--loader-handler",
        default=os.environ.get("LOCAL_LOADER_HANDLER", LOADER_HANDLER),
        help="module.function the S3 events go to",
    )
    parser.add_argument(
        "--inference-handler",
        default=os.environ.get("LOCAL_INFERENCE_HANDLER", INFERENCE_HANDLER),
        help="module.function the HTTP requests go to",
    )
    parser.add_argument(
        "--batch-handler",
        default=os.environ.get("LOCAL_BATCH_HANDLER", BATCH_HANDLER),
        help="module.function the batch jobs' steps go to",
    )
    parser.add_argument(
        "--inference-concurrency",
        type=int,
        default=_env_count("LOCAL_INFERENCE_CONCURRENCY", os.cpu_count() or 1),
        help="inference environments at most, each answering one request at a time (LOCAL_INFERENCE_CONCURRENCY; "
        "default: the number of cores)",
    )
    parser.add_argument(
        "--batch-workers",
        type=int,
        default=_env_count("LOCAL_BATCH_WORKERS", 2),
        help="batch worker functions scoring a job's ranges at once (LOCAL_BATCH_WORKERS)",
    )
    parser.add_argument(
        "--authorization",
        type=_authorization,
        default=os.environ.get("LOCAL_API_AUTHORIZATION", "AWS_IAM"),
        help="AWS_IAM (SigV4-signed requests only, the default) or NONE, as Terraform's api_authorization_type",
    )
    parser.add_argument("--ready-file", type=Path, help="write the endpoints here as JSON once the stack is up")
    parser.add_argument("--quiet", action="store_true", help="do not log each request and event")
    return parser.parse_args(argv)


def aws_cli() -> str:
    """The aws command to show: the one on PATH, else the project's own."""
    found = shutil.which("aws")
    if found and Path(found).parent != Path(sys.executable).parent:
        return "aws"
    own = Path(sys.executable).parent / "aws"
    if own.exists():
        try:
            return str(own.relative_to(Path.cwd()))
        except ValueError:
            return str(own)
    return "aws"


def curl_command(stack: LocalStack) -> str:
    """curl as the stack's gateway wants it: signed for execute-api unless the stack is open."""
    if stack.config.authorization == "NONE":
        return "curl -s"
    return f'curl -s --aws-sigv4 "aws:amz:{stack.config.region}:execute-api" --user testing:testing'


def banner(stack: LocalStack) -> str:
    s3 = stack.s3_endpoint
    url = stack.inference_url
    bucket = stack.config.bucket
    aws = f"{aws_cli()} --endpoint-url {s3}"
    curl = curl_command(stack)
    body = shlex.quote(json.dumps(EXAMPLE_V2_REQUEST))
    if stack.config.authorization == "NONE":
        access = "The API is open (LOCAL_API_AUTHORIZATION=NONE): any request is served."
    else:
        access = (
            "The API asks who is calling, as a default deployment does: requests must be SigV4-signed for "
            "execute-api with the key below (LOCAL_API_AUTHORIZATION=NONE opens it)."
        )
    return "\n".join(
        [
            "",
            "Local stack is up (everything on 127.0.0.1).",
            f"  S3 endpoint    {s3}",
            f"  bucket         {bucket}",
            f"  data bucket    {stack.config.data_bucket}  (captured requests under capture/MODEL/VERSION/)",
            f"  inference URL  {url}",
            f"  model dir      {stack.model_dir}  (stands in for EFS)",
            "",
            access,
            "",
            "Upload, call, delete (these credentials are never sent anywhere else):",
            "  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
            f" AWS_DEFAULT_REGION={stack.config.region}",
            f"  {aws} s3 cp iris.joblib s3://{bucket}/iris.joblib",
            f"  {aws} s3 cp model.joblib s3://{bucket}/iris/2/model.joblib",
            f"  {curl} {url}/v2/models/iris/ready",
            f"  {curl} {url}/v2/models/iris/infer -H 'content-type: application/json' -d {body}",
            f"  {aws} s3 rm s3://{bucket}/iris.joblib",
            "",
            "Or with the serverless-sklearn command (.venv/bin/serverless-sklearn), which signs its requests:",
            f"  export SERVERLESS_SKLEARN_BUCKET={bucket} SERVERLESS_SKLEARN_URL={url.rstrip('/')}",
            f"  export SERVERLESS_SKLEARN_DATA_BUCKET={stack.config.data_bucket}",
            f"  export AWS_ENDPOINT_URL_S3={s3}",
            "  serverless-sklearn publish iris.joblib --name iris",
            "  serverless-sklearn models",
            "  serverless-sklearn traffic iris 1=90 2=10 && serverless-sklearn status iris",
            "  serverless-sklearn batch iris rows.csv --download answers.csv",
            "",
            "A replaced or removed model is served until the next check of its file (MODEL_REFRESH_SECONDS).",
            "Stop with Ctrl-C.",
        ]
    )


def write_ready_file(path: Path, stack: LocalStack) -> None:
    info = {
        "s3_endpoint": stack.s3_endpoint,
        "inference_url": stack.inference_url,
        "bucket": stack.config.bucket,
        "data_bucket": stack.config.data_bucket,
        "authorization": stack.config.authorization,
        "model_dir": str(stack.model_dir),
        "pid": os.getpid(),
        "function_pids": stack.function_pids(),
    }
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(info), encoding="utf-8")
    temporary.replace(path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    stopping = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        if stopping.is_set():
            # A second Ctrl-C while a slow load finishes: leave at once.
            os._exit(128 + signum)
        logging.getLogger("local_stack").info(
            "%s received; stopping (again to quit at once)", signal.Signals(signum).name
        )
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    config = StackConfig(
        s3_port=args.s3_port,
        http_port=args.http_port,
        bucket=args.bucket,
        data_bucket=args.data_bucket,
        model_dir=args.model_dir,
        loader_handler=args.loader_handler,
        inference_handler=args.inference_handler,
        batch_handler=args.batch_handler,
        batch_workers=max(1, args.batch_workers),
        inference_concurrency=max(1, args.inference_concurrency),
        quiet=args.quiet,
        authorization=args.authorization,
    )
    stack = LocalStack(config)
    try:
        stack.start()
    except OSError as error:
        print(
            f"cannot start the local stack: {error}\n"
            "Other ports: LOCAL_S3_PORT=... LOCAL_HTTP_PORT=... make serve (0 picks free ones).",
            file=sys.stderr,
        )
        return 1
    except (ImportError, AttributeError, TypeError, ValueError) as error:
        print(f"cannot load a handler: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    try:
        print(banner(stack), flush=True)
        if args.ready_file is not None:
            write_ready_file(args.ready_file, stack)
        print(READY_LINE, flush=True)
        while not stopping.wait(0.5):
            pass
    finally:
        stack.stop()
    print("Local stack stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
