"""Run ``python -m local_stack.serve`` as a child process and talk to it: used by the demo and the tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_stack.stack import HOST, REPO_ROOT, aws_environment, local_credentials
from serverless_sklearn.signing import Scope, sign


class StackError(RuntimeError):
    """The local stack did not start, answer or stop as expected."""


@dataclass
class StackProcess:
    process: subprocess.Popen[bytes]
    s3_endpoint: str
    inference_url: str
    bucket: str
    model_dir: Path
    log_path: Path
    region: str = "us-east-1"
    authorization: str = "AWS_IAM"
    data_bucket: str = "data"
    function_pids: dict[str, int] = field(default_factory=dict)  # each function's worker process, at start-up

    def aws_env(self) -> dict[str, str]:
        """The environment for boto3 or the aws CLI to reach this stack's S3."""
        # The stack's key pair is long-term: a session token from the user's shell would make every signature fail.
        dropped = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
        env = {k: v for k, v in os.environ.items() if k not in dropped}
        env.update(aws_environment(self.s3_endpoint, self.region))
        # Nothing from the user's ~/.aws may leak into calls meant for the emulator.
        env["AWS_CONFIG_FILE"] = os.devnull
        env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        return env

    def s3_client(self) -> Any:
        """A boto3 S3 client for this stack's S3, with its key pair."""
        import boto3

        env = self.aws_env()
        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            region_name=self.region,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )

    def aws(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run the aws CLI against this stack's S3; raises StackError when it fails."""
        command = [aws_cli(), "--endpoint-url", self.s3_endpoint, *args]
        try:
            done = subprocess.run(
                command, env=self.aws_env(), capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise StackError(f"aws {' '.join(args)} took more than {timeout:.0f} s") from None
        if done.returncode != 0:
            raise StackError(f"aws {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
        return done

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then wait; a stack that does not stop in time is killed and reported."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
                raise StackError(f"the local stack did not stop within {timeout:.0f} s after SIGTERM") from None
        return int(self.process.returncode)


def aws_cli() -> str:
    """The aws CLI installed beside this Python (the project's venv), else the one on PATH."""
    own = Path(sys.executable).parent / "aws"
    if own.exists():
        return str(own)
    found = shutil.which("aws")
    if found is None:
        raise StackError("the aws CLI is not installed: run `make venv`")
    return found


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


@contextmanager
def running_stack(
    model_dir: Path,
    *,
    s3_port: int = 0,
    http_port: int = 0,
    bucket: str = "models",
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    startup_timeout: float = 60.0,
) -> Iterator[StackProcess]:
    """Start the stack, wait until it is ready (bounded), yield it, and always stop it; it must exit with 0."""
    with tempfile.TemporaryDirectory(prefix="local-stack-") as scratch:
        ready_file = Path(scratch) / "ready.json"
        log_file = log_path or Path(scratch) / "stack.log"
        child_env = dict(os.environ)
        child_env.update(env or {})
        child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), child_env.get("PYTHONPATH")]))
        command = [
            sys.executable,
            "-m",
            "local_stack.serve",
            f"--s3-port={s3_port}",
            f"--http-port={http_port}",
            f"--bucket={bucket}",
            f"--model-dir={model_dir}",
            f"--ready-file={ready_file}",
        ]
        with log_file.open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=child_env, cwd=REPO_ROOT)
        stack: StackProcess | None = None
        try:
            info = _wait_for_ready(process, ready_file, log_file, startup_timeout)
            stack = StackProcess(
                process=process,
                s3_endpoint=info["s3_endpoint"],
                inference_url=info["inference_url"],
                bucket=info["bucket"],
                model_dir=Path(info["model_dir"]),
                authorization=str(info.get("authorization", "AWS_IAM")),
                data_bucket=str(info.get("data_bucket", "data")),
                function_pids={str(k): int(v) for k, v in (info.get("function_pids") or {}).items()},
                log_path=log_file,
            )
            yield stack
        finally:
            if stack is not None:
                code = stack.stop()
                if code != 0:
                    raise StackError(f"the local stack exited with {code}:\n{stack.log_tail()}")
            elif process.poll() is None:
                process.kill()
                process.wait(5)


def _wait_for_ready(
    process: subprocess.Popen[bytes], ready_file: Path, log_file: Path, timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready_file.exists():
            info: dict[str, Any] = json.loads(ready_file.read_text(encoding="utf-8"))
            return info
        if process.poll() is not None:
            tail = log_file.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise StackError(f"the local stack exited with {process.returncode} while starting:\n{tail}")
        time.sleep(0.1)
    raise StackError(f"the local stack was not ready within {timeout:.0f} s")


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http_request(
    method: str,
    url: str,
    payload: Any = None,
    *,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    signed: bool = True,
) -> HttpAnswer:
    """One HTTP request with urllib, SigV4-signed with the local stack's credentials unless ``signed`` is False;
    any status is an answer, not an exception."""
    if payload is not None:
        data = json.dumps(payload).encode()
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an HTTP URL: {url!r}")
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - scheme checked above
    fields = dict(headers or {})
    if payload is not None:
        fields.setdefault("content-type", "application/json")
    if signed:
        fields.update(sign(method, url, fields, data, local_credentials(), Scope.of(url, "us-east-1")))
    for name, value in fields.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            return HttpAnswer(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return HttpAnswer(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def wait_for_status(
    url: str, expected: int, timeout: float = 30.0, interval: float = 0.2, *, signed: bool = True
) -> HttpAnswer:
    """GET the URL until it answers with the expected status; StackError with the last answer otherwise."""
    deadline = time.monotonic() + timeout
    answer = http_request("GET", url, signed=signed)
    while answer.status != expected:
        if time.monotonic() >= deadline:
            raise StackError(
                f"GET {url} answered {answer.status} {answer.body[:200]!r}, not {expected}, for {timeout} s"
            )
        time.sleep(interval)
        answer = http_request("GET", url, signed=signed)
    return answer
