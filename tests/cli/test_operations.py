"""The operations commands' own logic: weights as the command line writes them, and the last hour's figures read
from CloudWatch as the function's metric lines land there (moto's CloudWatch)."""

from __future__ import annotations

from typing import Any

import pytest
from moto import mock_aws

from serverless_sklearn.deployment import DeploymentError
from serverless_sklearn.operations import NAMESPACE, _weights, cloudwatch_figures


def test_weights_are_version_equals_weight() -> None:
    assert _weights(("3=90", "4=10")) == {"3": 90, "4": 10}
    for bad in ("3:90", "three=1", "3=-1", "3=", "0=5"):
        with pytest.raises(DeploymentError, match="VERSION=WEIGHT"):
            _weights((bad,))


def _put(cloudwatch: Any, name: str, value: float, **dimensions: str) -> None:
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": key, "Value": item} for key, item in dimensions.items()],
                "Value": value,
                "Unit": "Count",
            }
        ],
    )


def test_status_sums_each_versions_counts_from_cloudwatch(aws_credentials: None) -> None:
    import boto3

    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        for _ in range(3):
            _put(cloudwatch, "Requests", 1, service="inference", model="iris", version="3")
        _put(cloudwatch, "Requests", 1, service="inference", model="iris", version="4")
        _put(cloudwatch, "ShadowDisagreement", 1, service="inference", model="iris", version="4")
        _put(cloudwatch, "Requests", 1, service="inference", model="churn", version="1")
        _put(cloudwatch, "Requests", 5, service="inference", model="iris")  # the model's total, no version

        figures = cloudwatch_figures("iris", cloudwatch)

    assert figures == {"3": {"Requests": 3}, "4": {"Requests": 1, "ShadowDisagreement": 1}}
