# ARN-shaped values for the mocked provider: random strings would fail the provider's ARN validation.

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
    arn        = "arn:aws:iam::123456789012:user/test"
  }
}

mock_data "aws_iam_session_context" {
  defaults = {
    issuer_arn = "arn:aws:iam::123456789012:role/deployer"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition  = "aws"
    dns_suffix = "amazonaws.com"
  }
}

mock_data "aws_region" {
  defaults = {
    name = "us-east-1"
  }
}

mock_data "aws_availability_zones" {
  defaults = {
    names = ["us-east-1a", "us-east-1b", "us-east-1c"]
  }
}

mock_resource "aws_s3_bucket" {
  defaults = {
    id     = "test-models"
    bucket = "test-models"
    arn    = "arn:aws:s3:::test-models"
  }
}

mock_resource "aws_efs_file_system" {
  defaults = {
    id  = "fs-12345678"
    arn = "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-12345678"
  }
}

mock_resource "aws_efs_access_point" {
  defaults = {
    id  = "fsap-12345678"
    arn = "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-12345678"
  }
}

mock_resource "aws_vpc_endpoint" {
  defaults = {
    prefix_list_id = "pl-63a5400a"
  }
}

mock_resource "aws_sqs_queue" {
  defaults = {
    arn = "arn:aws:sqs:us-east-1:123456789012:test-loader-failures"
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/test-loader-failures"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/test"
  }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:test"
  }
}

mock_resource "aws_lambda_function" {
  defaults = {
    arn           = "arn:aws:lambda:us-east-1:123456789012:function:test"
    qualified_arn = "arn:aws:lambda:us-east-1:123456789012:function:test:1"
    invoke_arn    = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:test/invocations"
    version       = "1"
  }
}

mock_resource "aws_lambda_alias" {
  defaults = {
    arn        = "arn:aws:lambda:us-east-1:123456789012:function:test:live"
    invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:test:live/invocations"
  }
}

mock_resource "aws_lambda_function_url" {
  defaults = {
    function_url = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/"
  }
}

mock_resource "aws_apigatewayv2_api" {
  defaults = {
    id            = "a1b2c3d4e5"
    api_endpoint  = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
    execution_arn = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5"
    arn           = "arn:aws:apigateway:us-east-1::/apis/a1b2c3d4e5"
  }
}

mock_resource "aws_apigatewayv2_stage" {
  defaults = {
    invoke_url    = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/"
    execution_arn = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/$default"
    arn           = "arn:aws:apigateway:us-east-1::/apis/a1b2c3d4e5/stages/$default"
  }
}

mock_resource "aws_api_gateway_rest_api" {
  defaults = {
    id               = "r1s2t3u4v5"
    root_resource_id = "root0resid"
    execution_arn    = "arn:aws:execute-api:us-east-1:123456789012:r1s2t3u4v5"
    arn              = "arn:aws:apigateway:us-east-1::/restapis/r1s2t3u4v5"
  }
}

mock_resource "aws_api_gateway_stage" {
  defaults = {
    invoke_url    = "https://r1s2t3u4v5.execute-api.us-east-1.amazonaws.com/live"
    execution_arn = "arn:aws:execute-api:us-east-1:123456789012:r1s2t3u4v5/live"
    arn           = "arn:aws:apigateway:us-east-1::/restapis/r1s2t3u4v5/stages/live"
  }
}

mock_resource "aws_ecr_repository" {
  defaults = {
    registry_id    = "123456789012"
    arn            = "arn:aws:ecr:us-east-1:123456789012:repository/test"
    repository_url = "123456789012.dkr.ecr.us-east-1.amazonaws.com/test"
  }
}

mock_resource "aws_cloudwatch_metric_alarm" {
  defaults = {
    arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:test"
  }
}

mock_data "aws_ec2_managed_prefix_list" {
  defaults = {
    id = "pl-63a5400a"
  }
}

mock_data "aws_ecr_authorization_token" {
  defaults = {
    user_name = "AWS"
    password  = "fake-password"
  }
}

mock_data "aws_servicequotas_service_quota" {
  defaults = {
    value = 1000
  }
}

mock_resource "aws_kinesis_firehose_delivery_stream" {
  defaults = {
    arn = "arn:aws:firehose:us-east-1:123456789012:deliverystream/test-capture"
  }
}

mock_resource "aws_sfn_state_machine" {
  defaults = {
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:test-batch"
  }
}
