"""Operating a served model: ``traffic``, ``capture``, ``rollback`` and ``status``.

The first three write the model's serving settings (``MODEL/serving.json`` in the model bucket), keeping what they
do not change, and wait until the loader has published them (the API shows the upload's ETag) or refused them (its
verdict names the same ETag). ``status`` shows the published settings, the versions, and the last hour's figures per
version: from CloudWatch for a deployment, from the local stack's own count of the same metric lines locally.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
import click
from rich.console import Console
from rich.table import Table

from lambdas.common.repository import is_valid_name, parse_version
from lambdas.common.serving import SETTINGS_FILE, SettingsError, settings_from_json
from serverless_sklearn.deployment import Api, DeploymentError, s3_client

if TYPE_CHECKING:
    from serverless_sklearn.cli import Context

POLL_SECONDS = 0.5
NAMESPACE = "ServerlessSklearn"
WINDOW = timedelta(hours=1)
# What ``status`` shows per version, in order: counts are summed over the hour, latency is a percentile.
COUNTS = ("Requests", "ClientErrors", "ServerErrors", "ShadowAgreement", "ShadowDisagreement", "ShadowFailed")
LATENCY = (("LatencyP50", "p50"), ("LatencyP99", "p99"))
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
console = Console(soft_wrap=True)


@click.command()
@click.argument("name")
@click.argument("weights", nargs=-1, required=True)
@click.option("--shadow", "shadow_version", type=int, default=None, help="A version that answers in the shadow.")
@click.option("--shadow-percent", type=float, default=100.0, show_default=True, help="Share of requests shadowed.")
@click.option("--no-shadow", is_flag=True, help="Stop shadowing.")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait until it applies.")
@click.pass_obj
def traffic(
    context: Context,
    name: str,
    weights: tuple[str, ...],
    shadow_version: int | None,
    shadow_percent: float,
    no_shadow: bool,
    timeout: float,
) -> None:
    """Split NAME's unversioned traffic by WEIGHTS (VERSION=WEIGHT ...), e.g. `traffic iris 3=90 4=10`."""
    current = _served(context.api, name)
    settings = dict(current.get("settings") or {})
    settings["traffic"] = _weights(weights)
    if no_shadow:
        settings.pop("shadow", None)
    elif shadow_version is not None:
        settings["shadow"] = {"version": str(shadow_version), "percent": shadow_percent}
    published = _publish(context, name, settings, timeout)
    console.print(f"[green bold]serving[/] {name}: {_describe(published)}")


@click.command()
@click.argument("name")
@click.argument("percent", type=float)
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait until it applies.")
@click.pass_obj
def capture(context: Context, name: str, percent: float, timeout: float) -> None:
    """Capture PERCENT of NAME's requests and answers (0 stops) into the data bucket's capture/NAME/."""
    settings = dict(_served(context.api, name).get("settings") or {})
    if percent:
        settings["capture"] = {"percent": percent}
    else:
        settings.pop("capture", None)
    published = _publish(context, name, settings, timeout)
    console.print(f"[green bold]serving[/] {name}: {_describe(published)}")


@click.command()
@click.argument("name")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait until it applies.")
@click.pass_obj
def rollback(context: Context, name: str, timeout: float) -> None:
    """Send all of NAME's traffic back to the version that last had all of it."""
    current = _served(context.api, name)
    target = current.get("rollback_version")
    if current.get("settings") is None or target is None:
        raise DeploymentError(f"{name} has no earlier version that had all its traffic: nothing to roll back to")
    settings = dict(current["settings"])
    settings["traffic"] = {str(target): 100}
    if (settings.get("shadow") or {}).get("version") == str(target):
        settings.pop("shadow")
    published = _publish(context, name, settings, timeout)
    console.print(f"[green bold]rolled back[/] {name}: {_describe(published)}")


@click.command()
@click.argument("name")
@click.pass_obj
def status(context: Context, name: str) -> None:
    """NAME's serving settings, versions, and the last hour's requests, errors, latency and shadow agreement."""
    served = _served(context.api, name)
    console.print(f"[bold]{name}[/]: versions {', '.join(served['versions'])}; {_describe(served)}")
    if served.get("refused"):
        console.print(f"[yellow]last upload refused[/]: {served['refused']['reason']}")
    figures = local_figures(context.api, name) if _is_local(context.api.url) else cloudwatch_figures(name)
    table = Table("version", "requests", "4xx", "5xx", "p50 ms", "p99 ms", "shadow agree", "disagree", "failed")
    for version, values in sorted(figures.items(), key=lambda item: int(item[0])):
        table.add_row(
            version,
            *(_count(values.get(metric)) for metric in COUNTS[:3]),
            *(_latency(values.get(metric)) for metric, _ in LATENCY),
            *(_count(values.get(metric)) for metric in COUNTS[3:]),
        )
    console.print(table if figures else "no requests in the last hour")


def _served(api: Api, name: str) -> dict[str, Any]:
    if not is_valid_name(name):
        raise DeploymentError(f"model name {name!r} must be letters, digits, '_', '.' or '-' (64 at most)")
    status_code, body = api.call("GET", f"/v2/models/{name}/serving")
    if status_code == 404:
        raise DeploymentError(f"{name} is not served: publish a version first")
    if status_code != 200:
        raise DeploymentError(f"GET /v2/models/{name}/serving answered {status_code}: {body}")
    return dict(body)


def _weights(pairs: tuple[str, ...]) -> dict[str, int]:
    weights: dict[str, int] = {}
    for pair in pairs:
        version_text, equals, weight_text = pair.partition("=")
        version = parse_version(version_text.strip())
        if not equals or version is None or not weight_text.strip().isdigit():
            raise DeploymentError(f"{pair!r} is not VERSION=WEIGHT (e.g. 3=90)")
        weights[str(version)] = int(weight_text)
    return weights


def _publish(context: Context, name: str, settings: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Upload the settings, then wait until the API serves them; the loader's verdict when it refused them."""
    try:
        settings_from_json(settings)  # the loader's own checks, before anything is written
    except SettingsError as error:
        raise DeploymentError(str(error)) from None
    deployment = context.deployment
    key = f"{deployment.prefix}{name}/{SETTINGS_FILE}"
    body = json.dumps(settings, indent=2).encode()
    put = s3_client().put_object(Bucket=deployment.bucket, Key=key, Body=body, ContentType="application/json")
    etag = str(put.get("ETag", "")).strip('"')
    deadline = time.monotonic() + timeout
    with console.status(f"waiting until the loader publishes s3://{deployment.bucket}/{key}"):
        while time.monotonic() < deadline:
            served = _served(context.api, name)
            if served.get("etag") == etag:
                return served
            refused = served.get("refused") or {}
            if refused.get("etag") == etag:
                raise DeploymentError(f"the loader refused {key}: {refused.get('reason')}")
            time.sleep(POLL_SECONDS)
    raise DeploymentError(f"{key} is not published after {timeout:.0f} s; see the loader's log")


def _describe(served: dict[str, Any]) -> str:
    settings = served.get("settings")
    if not settings:
        return "no serving settings: the latest version takes all traffic"
    parts = []
    weights = settings.get("traffic")
    if weights:
        total = sum(weights.values())
        parts.append("traffic " + ", ".join(f"v{v} {w * 100 / total:g}%" for v, w in weights.items()))
    else:
        parts.append("traffic to the latest version")
    if settings.get("shadow"):
        parts.append(f"shadow v{settings['shadow']['version']} on {settings['shadow'].get('percent', 100):g}%")
    if settings.get("capture"):
        parts.append(f"capture {settings['capture']['percent']:g}%")
    if served.get("rollback_version"):
        parts.append(f"rollback goes to v{served['rollback_version']}")
    return "; ".join(parts)


def _is_local(url: str) -> bool:
    return (urlsplit(url).hostname or "") in _LOOPBACK


def local_figures(api: Api, name: str) -> dict[str, dict[str, float]]:
    """The local stack's count of the function's metric lines over the last hour, by version."""
    return dict(api.ok("GET", f"/_local/metrics/{name}")["versions"])


def cloudwatch_figures(name: str, client: Any = None) -> dict[str, dict[str, float]]:
    """The last hour's figures of NAME per version, from the function's EMF metrics in CloudWatch."""
    cloudwatch = client or boto3.client("cloudwatch")
    listed: list[dict[str, Any]] = []
    for page in cloudwatch.get_paginator("list_metrics").paginate(
        Namespace=NAMESPACE, Dimensions=[{"Name": "model", "Value": name}]
    ):
        listed.extend(metric for metric in page["Metrics"] if any(d["Name"] == "version" for d in metric["Dimensions"]))
    queries: list[dict[str, Any]] = []
    labels: list[tuple[str, str]] = []
    unique = {(m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"]))): m for m in listed}
    for metric in unique.values():
        version = next(d["Value"] for d in metric["Dimensions"] if d["Name"] == "version")
        stats = LATENCY if metric["MetricName"] == "Latency" else ((metric["MetricName"], "Sum"),)
        for label, stat in stats:
            if label not in COUNTS and label not in dict(LATENCY):
                continue
            queries.append(
                {
                    "Id": f"q{len(queries)}",
                    "MetricStat": {"Metric": metric, "Period": int(WINDOW.total_seconds()), "Stat": stat},
                    "ReturnData": True,
                }
            )
            labels.append((version, label))
    figures: dict[str, dict[str, float]] = {}
    end = datetime.now(UTC) + timedelta(minutes=1)  # through the current minute
    for start in range(0, len(queries), 500):  # GetMetricData takes 500 queries at a time
        answer = cloudwatch.get_metric_data(
            MetricDataQueries=queries[start : start + 500], StartTime=end - WINDOW, EndTime=end
        )
        for result in answer["MetricDataResults"]:
            version, label = labels[int(result["Id"][1:])]
            values = [value for value in result.get("Values") or [] if value is not None]
            if values:
                total = sum(values) if label in COUNTS else max(values)
                figures.setdefault(version, {})[label] = figures.get(version, {}).get(label, 0) + total
    return figures


def _count(value: float | None) -> str:
    return f"{value:,.0f}" if value is not None else "0"


def _latency(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"
