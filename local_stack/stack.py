"""Starts and stops the pieces of the local stack: S3 and the event bridge in this process, each function's handler
in a process of its own (see ``functions``)."""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.credentials import Credentials

from lambdas.common.settings import Settings
from local_stack.authorization import IamAuthorizer, authorization_type
from local_stack.batch import BatchRunner
from local_stack.bridge import S3EventBridge
from local_stack.delivery import CaptureDelivery
from local_stack.functions import STOP_GRACE_SECONDS, FunctionPool, LocalFunction
from local_stack.gateway import InferenceGateway
from local_stack.logs import FunctionLogs, LocalMetrics, metrics_answer
from local_stack.notifications import queue_configurations

log = logging.getLogger("local_stack")

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL_DIR = REPO_ROOT / ".local-stack" / "efs"
LOADER_HANDLER = "lambdas.loader.handler.lambda_handler"
INFERENCE_HANDLER = "lambdas.inference.handler.lambda_handler"
BATCH_HANDLER = "lambdas.batch.handler.lambda_handler"
# The stack's one identity: S3 takes any credentials, and the gateway admits requests signed with these (a long-term
# key pair, so a signed call needs no session token).
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
_TEMPORARY_CREDENTIALS = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


@dataclass(frozen=True)
class StackConfig:
    s3_port: int = 4566
    http_port: int = 8080
    bucket: str = "models"
    data_bucket: str = "data"  # batch input and output, and captured requests
    capture_interval_seconds: float = 1.0  # how long captured records are buffered before they are written
    batch_workers: int = 2  # batch worker functions scoring a job's ranges at once (started on the first job)
    inference_concurrency: int = field(default_factory=lambda: os.cpu_count() or 1)  # inference environments at most
    model_dir: Path = DEFAULT_MODEL_DIR
    region: str = "us-east-1"
    loader_handler: str = LOADER_HANDLER
    inference_handler: str = INFERENCE_HANDLER
    batch_handler: str = BATCH_HANDLER
    quiet: bool = False
    # As Terraform's api_authorization_type: AWS_IAM admits SigV4-signed requests only, NONE every request.
    authorization: str = "AWS_IAM"


_EXIT_SECONDS = 1.0


def local_credentials() -> Credentials:
    """The credentials the local gateway admits, which the stack's own clients sign with."""
    return Credentials(FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"], FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])


def aws_environment(endpoint: str, region: str) -> dict[str, str]:
    """Variables that point boto3 and the aws CLI at the local S3 with credentials that are never real."""
    return {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": region, "AWS_REGION": region, "AWS_ENDPOINT_URL_S3": endpoint}


class MotoServer:
    """moto's server app on a werkzeug server in a thread. Binding happens in start(), so a busy port fails there."""

    def __init__(self, host: str, port: int) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="moto", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class LocalStack:
    """moto S3 + SQS, the bridge that drives the loader, and the HTTP gateway in front of the inference function.

    The functions run in worker processes with this process's environment plus what Terraform sets per function.
    """

    def __init__(self, config: StackConfig) -> None:
        authorization_type(config.authorization)
        self.config = config
        self.model_dir = config.model_dir.resolve()
        self._moto: MotoServer | None = None
        self._gateway: InferenceGateway | None = None
        self._gateway_thread: threading.Thread | None = None
        self._bridge: S3EventBridge | None = None
        self._functions: list[LocalFunction | FunctionPool] = []
        self._data_queue_url = ""
        self._delivery: CaptureDelivery | None = None
        self._batch: BatchRunner | None = None
        self._batch_workers: list[LocalFunction] = []
        self.metrics = LocalMetrics()

    @property
    def s3_endpoint(self) -> str:
        assert self._moto is not None, "start() first"
        return f"http://{HOST}:{self._moto.port}"

    @property
    def inference_url(self) -> str:
        assert self._gateway is not None, "start() first"
        return f"http://{HOST}:{self._gateway.port}"

    def function_pids(self) -> dict[str, int]:
        """The process id of each function's worker, by function name."""
        return {function.name: pid for function in self._functions if (pid := function.pid) is not None}

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        config = self.config
        self.model_dir.mkdir(parents=True, exist_ok=True)
        for noisy in ("werkzeug", "botocore", "boto3"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        self._moto = MotoServer(HOST, config.s3_port)
        self._moto.start()
        endpoint = self.s3_endpoint
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", *_TEMPORARY_CREDENTIALS):
            os.environ.pop(name, None)
        os.environ.update(aws_environment(endpoint, config.region))
        os.environ["MODEL_DIR"] = str(self.model_dir)

        loader = LocalFunction(
            "loader",
            config.loader_handler,
            {**os.environ, "POWERTOOLS_SERVICE_NAME": "loader", "MODEL_BUCKET": config.bucket},
            region=config.region,
            timeout_seconds=300,
        )
        # On AWS the inference function has no S3 access: it is given no S3 endpoint here either. Its output is its
        # log stream, from which the capture delivery takes the captured records into the data bucket.
        inference_environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
        self._delivery = CaptureDelivery(
            self._s3_client(endpoint).put_object, config.data_bucket, interval=config.capture_interval_seconds
        )
        # As Lambda scales the function out: up to inference_concurrency environments, each answering one request
        # at a time, started when a request finds the others busy and kept warm.
        inference = FunctionPool(
            "inference",
            config.inference_handler,
            {**inference_environment, "POWERTOOLS_SERVICE_NAME": "inference"},
            concurrency=max(1, config.inference_concurrency),
            region=config.region,
            timeout_seconds=28,
            log_sink=FunctionLogs(self._delivery, self.metrics).line,
        )
        self._functions = [loader, inference]
        # Both handlers import now, each in its own process while S3 is set up here: a broken handler stops the
        # stack at start-up rather than at the first request.
        with ThreadPoolExecutor(len(self._functions), thread_name_prefix="start") as starting:
            imported = [starting.submit(function.start) for function in self._functions]
            sqs, queue_url, failure_queue_url = self._create_bucket_and_queues(endpoint)
            for future in imported:
                future.result()

        self._bridge = S3EventBridge(sqs, queue_url, failure_queue_url, loader)
        self._bridge.start()
        # Batch workers see S3 as the loader does; each starts with the first job that needs it.
        self._batch_workers = [
            LocalFunction(
                f"batch-{number}",
                config.batch_handler,
                {**os.environ, "POWERTOOLS_SERVICE_NAME": "batch"},
                region=config.region,
                timeout_seconds=900,
            )
            for number in range(max(1, config.batch_workers))
        ]
        self._batch = BatchRunner(sqs, self._data_queue_url, self._batch_workers)
        self._batch.start()
        self._delivery.start()
        authorizer = IamAuthorizer(local_credentials(), config.region) if config.authorization == "AWS_IAM" else None
        self._gateway = InferenceGateway(
            HOST,
            config.http_port,
            inference.invoke,
            quiet=config.quiet,
            authorizer=authorizer,
            local_paths=lambda path: metrics_answer(self.metrics, path),
        )
        self._gateway_thread = threading.Thread(
            target=self._gateway.serve_forever, kwargs={"poll_interval": 0.2}, name="gateway", daemon=True
        )
        self._gateway_thread.start()

    def _s3_client(self, endpoint: str) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=endpoint, region_name=self.config.region)

    def _create_bucket_and_queues(self, endpoint: str) -> tuple[Any, str, str]:
        import boto3

        region = self.config.region
        s3 = self._s3_client(endpoint)
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=region)
        data = self.config.data_bucket
        s3.create_bucket(Bucket=data)
        s3.put_bucket_versioning(Bucket=data, VersioningConfiguration={"Status": "Enabled"})
        self._data_queue_url = sqs.create_queue(QueueName=f"{data}-input-events")["QueueUrl"]
        data_queue_arn = sqs.get_queue_attributes(QueueUrl=self._data_queue_url, AttributeNames=["QueueArn"])
        rules = [{"Name": "prefix", "Value": "input/"}]
        s3.put_bucket_notification_configuration(
            Bucket=data,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": data_queue_arn["Attributes"]["QueueArn"],
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": rules}},
                    }
                ]
            },
        )
        bucket = self.config.bucket
        queue_url = sqs.create_queue(QueueName=f"{bucket}-events")["QueueUrl"]
        failure_queue_url = sqs.create_queue(QueueName=f"{bucket}-loader-failures")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={"QueueConfigurations": queue_configurations(queue_arn, Settings.from_env())},
        )
        return sqs, queue_url, failure_queue_url

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop accepting requests and events, give what is in hand ``grace`` seconds to finish, end every function
        (a busy one killed), then deliver what is left and stop S3. Returns in about ``grace`` seconds plus the
        delivery, whatever the handlers are doing. Safe to call more than once."""
        deadline = time.monotonic() + grace
        gateway = self._gateway
        if gateway is not None:
            if self._gateway_thread is not None and self._gateway_thread.is_alive():
                gateway.shutdown()  # no new connection; those kept alive are ended as soon as they are idle
                self._gateway_thread.join(timeout=grace)
            gateway.end_idle_connections()
        runners: list[Any] = [runner for runner in (self._bridge, self._batch) if runner is not None]
        for runner in runners:
            runner.request_stop()
        for runner in runners:
            runner.stop(timeout=max(0.0, deadline - time.monotonic()))
        self._bridge = self._batch = None
        functions: list[Any] = [*self._batch_workers, *self._functions]
        remaining = max(_EXIT_SECONDS, deadline - time.monotonic())  # an idle worker always has time to exit
        stopping = [threading.Thread(target=function.stop, args=(remaining,)) for function in functions]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        self._batch_workers, self._functions = [], []
        if gateway is not None:  # every request in flight has its answer, or its function's error, by now
            gateway.server_close()
            self._gateway = None
        if self._delivery is not None:  # the functions have stopped writing: deliver what is left
            self._delivery.stop()
            self._delivery = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
