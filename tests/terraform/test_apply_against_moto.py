"""The root module applied to a moto server on loopback, checked with boto3, then destroyed.

moto stands in for the AWS APIs, so this proves that the configuration applies first time in dependency order and
wires what it says; what moto does not store (a function's file system, image command, destinations) is asserted by
the mocked `terraform test` runs in tests/*.tftest.hcl instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.moto_server import FAKE_CREDENTIALS, moto_server
from tests.support.paths import REPO as ROOT

IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/serverless-sklearn:prebuilt"
SERVICES = (
    *("apigateway", "apigatewayv2", "cloudwatch", "ec2", "ecr", "efs"),
    *("events", "firehose", "iam", "lambda", "logs", "s3", "sfn", "sqs", "sts"),
)

pytestmark = [
    pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH"),
    pytest.mark.slow,  # the provider waits out its consistency checks: about a minute for the bucket lifecycle
]


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("moto") / "server.log"
    # IAM's AWS managed policies exist in moto only when loaded at start-up; the functions attach one.
    # Started from the repository, so that the module answering state machine validations imports.
    env = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "true", "PYTHONPATH": str(ROOT)}
    with moto_server(env, log_path, module="tests.support.moto_sfn") as endpoint:
        yield endpoint


def _provider_override(endpoint: str) -> str:
    endpoints = "\n".join(f'    {service} = "{endpoint}"' for service in SERVICES)
    return f"""provider "aws" {{
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = false
  s3_use_path_style           = true
  max_retries                 = 2

  endpoints {{
{endpoints}
  }}
}}
"""


class Terraform:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.env = {
            **os.environ,
            **FAKE_CREDENTIALS,
            "TF_CLI_CONFIG_FILE": str(ROOT / "terraformrc"),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }

    def run(self, *args: str, timeout: float) -> str:
        result = subprocess.run(
            ["terraform", *args, "-no-color"],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"terraform {args[0]} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        return result.stdout


def _copy_root_module(destination: Path) -> None:
    for source in ROOT.glob("*.tf"):
        shutil.copy2(source, destination / source.name)
    shutil.copy2(ROOT / ".terraform.lock.hcl", destination / ".terraform.lock.hcl")
    shutil.copytree(ROOT / "modules", destination / "modules", ignore=shutil.ignore_patterns(".terraform*"))


@pytest.fixture(scope="module")
def applied(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("root")
    _copy_root_module(workdir)
    (workdir / "provider_moto.tf").write_text(_provider_override(moto_endpoint))
    terraform = Terraform(workdir)
    # Any AWS service the endpoints block does not name is sent to moto as well, never to AWS.
    terraform.env["AWS_ENDPOINT_URL"] = moto_endpoint
    variables = ["-var", f"image_uri={IMAGE_URI}", "-var", "model_prefix=models", "-var", "force_destroy=true"]
    variables += ["-var", 'model_error_alarms={"iris": {"threshold_percent": 2}}']

    terraform.run("init", "-backend=false", timeout=120)
    started = time.monotonic()
    terraform.run("apply", "-auto-approve", *variables, timeout=170)
    apply_seconds = time.monotonic() - started
    outputs = {name: value["value"] for name, value in json.loads(terraform.run("output", "-json", timeout=30)).items()}
    try:
        yield {"outputs": outputs, "endpoint": moto_endpoint, "apply_seconds": apply_seconds}
    finally:
        # moto answers DeleteFileSystemPolicy with an error; the policy goes with its file system anyway.
        terraform.run("state", "rm", "module.storage.aws_efs_file_system_policy.this", timeout=30)
        started = time.monotonic()
        terraform.run("destroy", "-auto-approve", *variables, timeout=120)
        print(f"terraform apply {apply_seconds:.0f} s, destroy {time.monotonic() - started:.0f} s against moto")


def _client(applied: dict[str, Any], service: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=applied["endpoint"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_bucket_notifications_invoke_the_loader_for_created_and_removed_models(applied: dict[str, Any]) -> None:
    outputs = applied["outputs"]
    loader = _client(applied, "lambda").get_function(FunctionName=outputs["loader_function_name"])
    loader_arn = loader["Configuration"]["FunctionArn"]

    config = _client(applied, "s3").get_bucket_notification_configuration(Bucket=outputs["bucket_name"])

    lambda_configs = config["LambdaFunctionConfigurations"]
    assert {c["LambdaFunctionArn"] for c in lambda_configs} == {loader_arn}
    filters = {}
    for item in lambda_configs:
        rules = {rule["Name"].lower(): rule["Value"] for rule in item["Filter"]["Key"]["FilterRules"]}
        filters[(rules["prefix"], rules["suffix"])] = set(item["Events"])
    created_and_removed = {"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}
    assert filters == {
        ("models/", ".joblib"): created_and_removed,
        ("models/", ".pkl"): created_and_removed,
        ("models/", ".skops"): created_and_removed,
        ("models/", "MLmodel"): created_and_removed,  # an MLflow directory comes and goes with its MLmodel
        ("models/", "serving.json"): created_and_removed,  # a model's serving settings
        ("models/", "input_example.json"): {"s3:ObjectCreated:*"},
        ("models/", "sample.json"): {"s3:ObjectCreated:*"},
        ("models/", "sample.npy"): {"s3:ObjectCreated:*"},
    }


def test_s3_may_invoke_the_loader_only_from_the_model_bucket(applied: dict[str, Any]) -> None:
    outputs = applied["outputs"]
    policy = json.loads(_client(applied, "lambda").get_policy(FunctionName=outputs["loader_function_name"])["Policy"])

    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == f"arn:aws:s3:::{outputs['bucket_name']}"
    assert statement["Condition"]["StringEquals"]["AWS:SourceAccount"] == "123456789012"


def test_every_private_subnet_has_an_efs_mount_target(applied: dict[str, Any]) -> None:
    outputs = applied["outputs"]
    efs = _client(applied, "efs")

    targets = efs.describe_mount_targets(FileSystemId=outputs["efs_file_system_id"])["MountTargets"]

    assert len(outputs["private_subnet_ids"]) == 2
    assert sorted(t["SubnetId"] for t in targets) == sorted(outputs["private_subnet_ids"])


def test_access_point_runs_as_1001_under_export_lambda(applied: dict[str, Any]) -> None:
    outputs = applied["outputs"]
    points = _client(applied, "efs").describe_access_points(FileSystemId=outputs["efs_file_system_id"])["AccessPoints"]

    (point,) = points
    assert point["AccessPointArn"] == outputs["efs_access_point_arn"]
    assert point["PosixUser"]["Uid"] == 1001
    assert point["PosixUser"]["Gid"] == 1001
    assert point["RootDirectory"]["Path"] == "/export/lambda"
    assert point["RootDirectory"]["CreationInfo"]["Permissions"] == "750"


def test_http_api_routes_every_request_to_the_inference_function(applied: dict[str, Any]) -> None:
    outputs = applied["outputs"]
    api = _client(applied, "apigatewayv2")
    inference = _client(applied, "lambda").get_function(FunctionName=outputs["inference_function_name"])

    (http_api,) = [item for item in api.get_apis()["Items"] if item["Name"] == outputs["inference_function_name"]]
    routes = api.get_routes(ApiId=http_api["ApiId"])["Items"]
    integrations = {i["IntegrationId"]: i for i in api.get_integrations(ApiId=http_api["ApiId"])["Items"]}

    assert http_api["ProtocolType"] == "HTTP"
    assert outputs["inference_url"] == http_api["ApiEndpoint"]
    (route,) = routes
    assert route["RouteKey"] == "$default"
    integration = integrations[route["Target"].removeprefix("integrations/")]
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["PayloadFormatVersion"] == "2.0"
    assert inference["Configuration"]["FunctionArn"] in integration["IntegrationUri"]


def test_functions_run_the_given_image_with_the_model_settings(applied: dict[str, Any]) -> None:
    outputs = applied["outputs"]
    client = _client(applied, "lambda")

    functions = {"loader": outputs["loader_function_name"], "inference": outputs["inference_function_name"]}
    for service, name in functions.items():
        config = client.get_function(FunctionName=name)["Configuration"]
        env = config["Environment"]["Variables"]
        assert config["PackageType"] == "Image"
        assert env["POWERTOOLS_SERVICE_NAME"] == service
        assert env["MODEL_DIR"] == "/mnt/ml"
        assert env["MODEL_PREFIX"] == "models/"
        assert env["ALLOWED_MODEL_FORMATS"] == "joblib,pkl,skops"
        assert env["ONNX_FAST_PATH"] == "true"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "ServerlessSklearn"
        assert set(config["VpcConfig"]["SubnetIds"]) == set(outputs["private_subnet_ids"])


def test_loader_failures_land_in_an_encrypted_queue_watched_by_an_alarm(applied: dict[str, Any]) -> None:
    outputs = applied["outputs"]
    sqs = _client(applied, "sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=outputs["loader_failure_queue_url"], AttributeNames=["All"])

    alarms = _client(applied, "cloudwatch").describe_alarms()["MetricAlarms"]

    assert attributes["Attributes"]["SqsManagedSseEnabled"] == "true"
    queue_name = attributes["Attributes"]["QueueArn"].rsplit(":", 1)[1]
    watching = [a for a in alarms if a.get("Namespace") == "AWS/SQS" and a["Dimensions"][0]["Value"] == queue_name]
    assert len(watching) == 1
    assert any(a.get("Namespace") == "AWS/ApiGateway" and a.get("MetricName") == "5xx" for a in alarms)


def test_the_local_stack_filters_the_bucket_notifications_as_the_deployment_does(applied: dict[str, Any]) -> None:
    from lambdas.common.settings import Settings
    from local_stack.notifications import queue_configurations

    outputs = applied["outputs"]
    config = _client(applied, "s3").get_bucket_notification_configuration(Bucket=outputs["bucket_name"])
    local = queue_configurations(
        "arn:aws:sqs:us-east-1:123456789012:events", Settings.from_env({"MODEL_PREFIX": "models"})
    )

    def filters(configurations: list[dict[str, Any]]) -> set[tuple[str, str, frozenset[str]]]:
        found = set()
        for item in configurations:
            rules = {rule["Name"].lower(): rule["Value"] for rule in item["Filter"]["Key"]["FilterRules"]}
            found.add((rules["prefix"], rules["suffix"], frozenset(item["Events"])))
        return found

    assert filters(local) == filters(config["LambdaFunctionConfigurations"])


def test_only_the_deploying_identity_may_put_or_delete_models(applied: dict[str, Any]) -> None:
    outputs = applied["outputs"]
    deployer = _client(applied, "sts").get_caller_identity()["Arn"]
    policy = json.loads(_client(applied, "s3").get_bucket_policy(Bucket=outputs["bucket_name"])["Policy"])

    (publishers,) = [s for s in policy["Statement"] if s.get("Sid") == "OnlyNamedPublishersWriteModels"]
    assert publishers["Effect"] == "Deny" and publishers["Principal"] == "*"
    assert set(publishers["Action"]) == {"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"}
    assert publishers["Resource"] == f"arn:aws:s3:::{outputs['bucket_name']}/models/*"
    allowed = publishers["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert (allowed if isinstance(allowed, list) else [allowed]) == [deployer]
    assert outputs["model_publisher_arns"] == [deployer]


def test_captured_requests_flow_from_the_log_group_through_firehose_to_the_data_bucket(
    applied: dict[str, Any],
) -> None:
    outputs = applied["outputs"]
    log_group = f"/aws/lambda/{outputs['inference_function_name']}"
    (subscription,) = _client(applied, "logs").describe_subscription_filters(logGroupName=log_group)[
        "subscriptionFilters"
    ]
    stream = _client(applied, "firehose").describe_delivery_stream(
        DeliveryStreamName=outputs["capture_delivery_stream_name"]
    )["DeliveryStreamDescription"]

    assert subscription["destinationArn"] == stream["DeliveryStreamARN"]
    assert subscription["filterPattern"] == '{ $.captureData.endpointInput.mode = "INPUT" }'
    (destination,) = stream["Destinations"]
    s3 = destination["ExtendedS3DestinationDescription"]
    assert s3["BucketARN"] == f"arn:aws:s3:::{outputs['data_bucket_name']}"
    assert s3["Prefix"].startswith("capture/!{partitionKeyFromQuery:model}/!{partitionKeyFromQuery:version}/")


def test_the_data_bucket_is_private_and_only_publishers_start_jobs(applied: dict[str, Any]) -> None:
    s3 = _client(applied, "s3")
    bucket = applied["outputs"]["data_bucket_name"]
    assert bucket != applied["outputs"]["bucket_name"]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    statements = {item["Sid"]: item for item in json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]}
    assert statements["OnlyNamedPublishersWriteInput"]["Resource"] == f"arn:aws:s3:::{bucket}/input/*"
    assert "DenyInsecureTransport" in statements


def test_a_dashboard_and_a_model_error_alarm_are_created(applied: dict[str, Any]) -> None:
    cloudwatch = _client(applied, "cloudwatch")
    body = json.loads(cloudwatch.get_dashboard(DashboardName=applied["outputs"]["dashboard_name"])["DashboardBody"])
    titles = [widget["properties"]["title"] for widget in body["widgets"]]
    assert "Shadow agreement per model and shadow version" in titles
    (alarm,) = cloudwatch.describe_alarms(AlarmNamePrefix="serverless-sklearn-inference-iris-errors")["MetricAlarms"]
    assert alarm["Threshold"] == 2


def test_an_object_under_input_starts_the_batch_state_machine(applied: dict[str, Any]) -> None:
    outputs = applied["outputs"]
    machine = _client(applied, "stepfunctions").describe_state_machine(
        stateMachineArn=outputs["batch_state_machine_arn"]
    )
    definition = json.loads(machine["definition"])
    assert definition["States"]["Score"]["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    events = _client(applied, "events")
    (rule,) = [r for r in events.list_rules()["Rules"] if r["Name"].endswith("-batch-input")]
    pattern = json.loads(rule["EventPattern"])
    assert pattern["detail"]["bucket"]["name"] == [outputs["data_bucket_name"]]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "input/"}]
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == outputs["batch_state_machine_arn"]
    # moto does not store a bucket's EventBridge setting: tests/batch.tftest.hcl asserts it on the plan.
