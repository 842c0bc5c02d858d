"""``serverless-sklearn``: publish a model and wait until it serves; list, ask and delete models; split, shadow,
capture and roll back their traffic (``operations``).

Every failure is one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from lambdas.common.repository import MODEL_SUFFIXES, SAMPLE_FILES, is_valid_name, parse_version
from lambdas.common.signature import Provenance
from serverless_sklearn import batch, checks, operations
from serverless_sklearn.deployment import Api, Deployment, DeploymentError, api_auth, error_text, s3_client

POLL_SECONDS = 0.5
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


@dataclass
class Context:
    bucket: str | None
    url: str | None
    prefix: str | None
    token: str | None = None
    _deployment: Deployment | None = None
    _api: Api | None = None

    @property
    def deployment(self) -> Deployment:
        if self._deployment is None:
            self._deployment = Deployment.find(self.bucket, self.url, self.prefix)
        return self._deployment

    @property
    def api(self) -> Api:
        if self._api is None:
            url = self.deployment.url
            self._api = Api(url, api_auth(url, self.token))
        return self._api


@click.group()
@click.option("--bucket", envvar="SERVERLESS_SKLEARN_BUCKET", help="The model bucket (terraform output bucket_name).")
@click.option("--url", envvar="SERVERLESS_SKLEARN_URL", help="The inference URL (terraform output inference_url).")
@click.option("--prefix", envvar="SERVERLESS_SKLEARN_PREFIX", default=None, help="The deployment's model_prefix.")
@click.option(
    "--token",
    envvar="SERVERLESS_SKLEARN_TOKEN",
    default=None,
    help="A JWT for an API with authorization JWT; without one, requests are SigV4-signed with AWS credentials.",
)
@click.version_option(package_name="serverless-sklearn")
@click.pass_context
def cli(context: click.Context, bucket: str | None, url: str | None, prefix: str | None, token: str | None) -> None:
    """Publish scikit-learn models to a serverless-sklearn deployment and ask them."""
    context.obj = Context(bucket, url, prefix, token)


@cli.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--name", required=True, help="The model's name in the repository.")
@click.option("--version", "version", type=int, default=None, help="Version to publish (default: the next one).")
@click.option("--sample", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Probe rows (JSON).")
@click.option("--timeout", type=float, default=180.0, show_default=True, help="Seconds to wait until it serves.")
@click.pass_obj
def publish(context: Context, path: Path, name: str, version: int | None, sample: Path | None, timeout: float) -> None:
    """Check a model file or an MLflow model directory here, upload it, and wait until it serves."""
    if not is_valid_name(name):
        raise DeploymentError(f"model name {name!r} must be letters, digits, '_', '.' or '-' (64 at most)")
    if version is not None and parse_version(str(version)) is None:
        raise DeploymentError(f"version must be a positive integer, got {version}")
    local = checks.check(path, sample)
    console.print(f"[bold]checked[/] {path.name}: {checks.describe(local.signature)}")
    deployment, api = context.deployment, context.api
    _compare_versions(local.signature.provenance, api.ok("GET", "/v2"))
    version = version or _next_version(api, name)
    keys = _keys(deployment, name, version, local, path)
    started = datetime.now(UTC).isoformat()
    _upload(deployment.bucket, keys, local)
    served = _wait_until_served(api, name, version, local.sha256, started, timeout)
    console.print(f"[green bold]ready[/] {name} version {version} ({served['platform']})")
    request = checks.example_request(local.signature, local.sample)
    console.print("Ask it:", style="bold")
    address = f"{deployment.url}/v2/models/{name}/versions/{version}/infer"
    console.print(checks.curl(address, request, api.curl_options), soft_wrap=True)


@cli.command()
@click.pass_obj
def models(context: Context) -> None:
    """The repository index: every model version and its state."""
    index = context.api.ok("POST", "/v2/repository/index", json={})
    table = Table("name", "version", "state", "reason")
    for entry in index:
        table.add_row(entry["name"], entry["version"], entry.get("state", ""), entry.get("reason", ""))
    console.print(table if index else "no models")


@cli.command()
@click.argument("model")
@click.option("--json", "json_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--csv", "csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def predict(context: Context, model: str, json_file: Path | None, csv_file: Path | None) -> None:
    """Ask MODEL (NAME or NAME/VERSION) with a V2, V1 or MLflow JSON body, or a CSV table."""
    if (json_file is None) == (csv_file is None):
        raise DeploymentError("give one of --json FILE or --csv FILE")
    base = _model_path(model)
    if csv_file is not None:
        headers = {"Content-Type": "text/csv"}
        answer = context.api.call("POST", f"{base}/invocations", data=csv_file.read_bytes(), headers=headers)
    else:
        assert json_file is not None
        try:
            body = json.loads(json_file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise DeploymentError(f"{json_file} is not JSON: {error}") from None
        answer = context.api.call("POST", f"{base}/{_route_for(body)}", json=body)
    status, result = answer
    if status != 200:
        raise DeploymentError(f"the model answered {status}: {error_text(result)}")
    click.echo(json.dumps(result))


@cli.command()
@click.argument("model")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds to wait until it is gone.")
@click.pass_obj
def delete(context: Context, model: str, yes: bool, timeout: float) -> None:
    """Delete MODEL (NAME, every version, or NAME/VERSION) from the bucket and wait until it is not served."""
    name, _, version_text = model.partition("/")
    version = parse_version(version_text) if version_text else None
    if not is_valid_name(name) or (version_text and version is None):
        raise DeploymentError(f"{model!r} is not NAME or NAME/VERSION")
    deployment = context.deployment
    s3 = s3_client()
    keys = _model_objects(s3, deployment, name, version)
    if not keys:
        raise DeploymentError(f"no objects of {model} in s3://{deployment.bucket}/{deployment.prefix}")
    if not yes:
        click.confirm(f"Delete {len(keys)} object(s) of {model} from s3://{deployment.bucket}?", abort=True)
    for start in range(0, len(keys), 1000):
        batch = [{"Key": key} for key in keys[start : start + 1000]]
        s3.delete_objects(Bucket=deployment.bucket, Delete={"Objects": batch, "Quiet": True})
    path = f"/v2/models/{name}/versions/{version}/ready" if version else f"/v2/models/{name}/ready"
    deadline = time.monotonic() + timeout
    with console.status(f"waiting until {model} is no longer served"):
        while context.api.call("GET", path)[0] != 404:
            if time.monotonic() > deadline:
                raise DeploymentError(f"{model} is still served after {timeout:.0f} s; see the loader's log")
            time.sleep(POLL_SECONDS)
    console.print(f"[bold]deleted[/] {model} ({len(keys)} object(s))")


for _command in (operations.traffic, operations.capture, operations.rollback, operations.status, batch.batch):
    cli.add_command(_command)


# --- publish, step by step ---


def _compare_versions(provenance: Provenance | None, server: dict[str, Any]) -> None:
    served = (server.get("parameters") or {}).get("served_with", {}).get("scikit-learn")
    trained = provenance.trained_with.get("scikit-learn") if provenance else None
    if trained is None or served is None:
        return
    check = Provenance(estimator="", trained_with={"scikit-learn": trained}, served_with={"scikit-learn": served})
    if check.mismatches():
        errors.print(
            f"[yellow]warning[/] saved with scikit-learn {trained}, the deployment serves {served}: it is served "
            "with the mismatch shown, or refused under MODEL_VERSION_POLICY=reject"
        )
    else:
        console.print(f"scikit-learn {trained} here, {served} in the deployment")


def _next_version(api: Api, name: str) -> int:
    status, body = api.call("GET", f"/v2/models/{name}")
    if status == 200:
        return max(int(v) for v in body["versions"]) + 1
    refused = [e for e in api.ok("POST", "/v2/repository/index", json={}) if e["name"] == name]
    return max((int(e["version"]) for e in refused if str(e["version"]).isdigit()), default=0) + 1


def _keys(deployment: Deployment, name: str, version: int, local: checks.LocalModel, path: Path) -> list[str]:
    base = f"{deployment.prefix}{name}/{version}/"
    if local.mlflow:
        return [f"{base}{file.relative_to(path).as_posix()}" for file in local.files]
    names = {local.model_file: f"model{local.suffix}"}
    return [f"{base}{names.get(file, 'sample.json')}" for file in local.files]


def _upload(bucket: str, keys: list[str], local: checks.LocalModel) -> None:
    s3 = s3_client()
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console) as progress:
        for file, key in zip(local.files, keys, strict=True):
            task = progress.add_task(f"s3://{bucket}/{key}", total=file.stat().st_size)
            extra = {"Metadata": {"sha256": local.sha256}} if file == local.model_file else {}
            s3.upload_file(
                str(file), bucket, key, ExtraArgs=extra, Callback=lambda sent, t=task: progress.advance(t, sent)
            )


def _wait_until_served(api: Api, name: str, version: int, sha256: str, started: str, timeout: float) -> Any:
    """The served version's metadata once it is the uploaded file; the loader's verdict when it refused it."""
    deadline = time.monotonic() + timeout
    with console.status(f"waiting until {name} version {version} serves"):
        while time.monotonic() < deadline:
            status, metadata = api.call("GET", f"/v2/models/{name}/versions/{version}")
            if status == 200 and (metadata.get("parameters") or {}).get("sha256") == sha256:
                return metadata
            if status == 503:
                verdict = _verdict(api, name, version, sha256, started)
                if verdict is not None:
                    raise DeploymentError(f"the loader refused {name} version {version}: {verdict}")
            time.sleep(POLL_SECONDS)
    raise DeploymentError(f"{name} version {version} is not served after {timeout:.0f} s; see the loader's log")


def _verdict(api: Api, name: str, version: int, sha256: str, started: str) -> str | None:
    for entry in api.ok("POST", "/v2/repository/index", json={}):
        if (entry["name"], entry["version"]) != (name, str(version)) or entry.get("state") != "UNAVAILABLE":
            continue
        if entry.get("sha256") == sha256 or str(entry.get("refused_at", "")) >= started:
            reason = str(entry.get("reason", ""))
            return reason.removeprefix("refused by the loader: ")
    return None


# --- predict and delete ---


def _model_path(model: str) -> str:
    name, _, version = model.partition("/")
    if not is_valid_name(name) or (version and parse_version(version) is None):
        raise DeploymentError(f"{model!r} is not NAME or NAME/VERSION")
    return f"/v2/models/{name}/versions/{version}" if version else f"/v2/models/{name}"


def _route_for(body: Any) -> str:
    """V2 tensors go to ``infer``; every other body (MLflow's forms, V1's instances) to ``invocations``."""
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if isinstance(inputs, list) and inputs and all(isinstance(i, dict) and "datatype" in i for i in inputs):
        return "infer"
    return "invocations"


def _model_objects(s3: Any, deployment: Deployment, name: str, version: int | None) -> list[str]:
    prefix = f"{deployment.prefix}{name}/" + (f"{version}/" if version else "")
    keys = [item["Key"] for page in _pages(s3, deployment.bucket, prefix) for item in page.get("Contents", ())]
    if version in (None, 1):  # a flat key is version 1
        flat = [f"{deployment.prefix}{name}{suffix}" for suffix in MODEL_SUFFIXES]
        flat += [f"{deployment.prefix}{name}.{sample}" for sample in SAMPLE_FILES]
        for key in flat:
            try:
                s3.head_object(Bucket=deployment.bucket, Key=key)
            except ClientError:
                continue
            keys.append(key)
    return keys


def _pages(s3: Any, bucket: str, prefix: str) -> Any:
    return s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)


def main() -> None:
    """The console script: click's own errors as click shows them, every other failure as one line."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        errors.print("aborted")
        sys.exit(1)
    except click.ClickException as error:
        errors.print(f"[red]error[/] {error.format_message()}", highlight=False)
        sys.exit(error.exit_code)
    except (BotoCoreError, ClientError) as error:
        errors.print(f"[red]error[/] S3: {error}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
