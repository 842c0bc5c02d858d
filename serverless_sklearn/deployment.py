"""Where a deployment is and how to talk to it: its bucket (S3) and its inference URL (HTTP).

Found from flags, then the environment (``SERVERLESS_SKLEARN_BUCKET``, ``SERVERLESS_SKLEARN_URL``, which
``make serve`` prints), then ``terraform output -json`` in the current directory. S3 calls go wherever boto3 is
configured to send them (``AWS_ENDPOINT_URL`` for the local stack).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import click
import requests

HTTP_TIMEOUT_SECONDS = 30.0


class DeploymentError(click.ClickException):
    """Something about the deployment the user has to fix; shown as one line."""


@dataclass(frozen=True)
class Deployment:
    bucket: str
    url: str
    prefix: str = ""

    @classmethod
    def find(cls, bucket: str | None, url: str | None, prefix: str | None) -> Deployment:
        if not (bucket and url):
            outputs = _terraform_outputs()
            bucket = bucket or outputs.get("bucket_name")
            url = url or outputs.get("inference_url")
            prefix = prefix if prefix is not None else outputs.get("model_prefix")
        if not bucket or not url:
            raise DeploymentError(
                "no deployment found: pass --bucket and --url, export SERVERLESS_SKLEARN_BUCKET and "
                "SERVERLESS_SKLEARN_URL (make serve prints them), or run in the Terraform root after apply"
            )
        normalised = (prefix or "").strip("/")
        return cls(bucket=bucket, url=url.rstrip("/"), prefix=f"{normalised}/" if normalised else "")


def _terraform_outputs() -> dict[str, str]:
    if shutil.which("terraform") is None or not Path(".terraform").is_dir():
        return {}
    try:
        completed = subprocess.run(
            ["terraform", "output", "-json"], capture_output=True, text=True, timeout=60, check=True
        )
        outputs: Any = json.loads(completed.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}
    if not isinstance(outputs, dict):
        return {}
    found = {}
    for name, output in outputs.items():
        value = output.get("value") if isinstance(output, dict) else None
        if isinstance(value, str):
            found[name] = value
    return found


class Api:
    """The inference API of a deployment, answering parsed JSON with its status."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._session = requests.Session()

    def call(self, method: str, path: str, **options: Any) -> tuple[int, Any]:
        try:
            response = self._session.request(method, f"{self.url}{path}", timeout=HTTP_TIMEOUT_SECONDS, **options)
        except requests.RequestException as error:
            raise DeploymentError(f"the inference URL {self.url} does not answer: {type(error).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text[:300]}
        return response.status_code, body

    def ok(self, method: str, path: str, **options: Any) -> Any:
        status, body = self.call(method, path, **options)
        if status != 200:
            raise DeploymentError(f"{method} {path} answered {status}: {error_text(body)}")
        return body


def error_text(body: Any) -> str:
    return str(body.get("error", body)) if isinstance(body, dict) else str(body)


def s3_client() -> Any:
    return boto3.client("s3")
