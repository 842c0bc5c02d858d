resource "aws_cloudwatch_log_group" "loader" {
  name              = "/aws/lambda/${local.loader_name}"
  retention_in_days = var.log_retention_days

  tags = merge({ Name = local.loader_name }, var.tags)
}

resource "aws_cloudwatch_log_group" "inference" {
  name              = "/aws/lambda/${local.inference_name}"
  retention_in_days = var.log_retention_days

  tags = merge({ Name = local.inference_name }, var.tags)
}

resource "aws_lambda_function" "loader" {
  function_name = local.loader_name
  description   = "Copies model files from S3 to EFS on bucket notifications"
  role          = aws_iam_role.loader.arn
  package_type  = "Image"
  image_uri     = var.image_uri
  architectures = [var.architecture]
  memory_size   = var.loader_memory_size
  timeout       = var.loader_timeout

  # Same image as the inference function; only the entry point differs.
  image_config {
    command = ["lambdas.loader.handler.lambda_handler"]
  }

  environment {
    variables = merge(local.common_environment, { POWERTOOLS_SERVICE_NAME = "loader" })
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  file_system_config {
    arn              = var.efs_access_point_arn
    local_mount_path = local.model_dir
  }

  tags = merge({ Name = local.loader_name }, var.tags)

  depends_on = [
    aws_cloudwatch_log_group.loader,
    aws_iam_role_policy.loader,
    aws_iam_role_policy_attachment.loader_eni,
  ]
}

resource "aws_lambda_function" "inference" {
  function_name                  = local.inference_name
  description                    = "Serves the models on EFS over HTTP"
  role                           = aws_iam_role.inference.arn
  package_type                   = "Image"
  image_uri                      = var.image_uri
  architectures                  = [var.architecture]
  memory_size                    = var.inference_memory_size
  timeout                        = var.inference_timeout
  reserved_concurrent_executions = coalesce(var.inference_reserved_concurrency, -1)
  publish                        = var.inference_provisioned_concurrency > 0

  environment {
    variables = merge(local.common_environment, { POWERTOOLS_SERVICE_NAME = "inference" })
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  file_system_config {
    arn              = var.efs_access_point_arn
    local_mount_path = local.model_dir
  }

  tags = merge({ Name = local.inference_name }, var.tags)

  depends_on = [
    aws_cloudwatch_log_group.inference,
    aws_iam_role_policy.inference,
    aws_iam_role_policy_attachment.inference_eni,
  ]
}

resource "aws_lambda_alias" "inference" {
  count = var.inference_provisioned_concurrency > 0 ? 1 : 0

  name             = "live"
  function_name    = aws_lambda_function.inference.function_name
  function_version = aws_lambda_function.inference.version
}

resource "aws_lambda_provisioned_concurrency_config" "inference" {
  count = var.inference_provisioned_concurrency > 0 ? 1 : 0

  function_name                     = aws_lambda_function.inference.function_name
  qualifier                         = aws_lambda_alias.inference[0].name
  provisioned_concurrent_executions = var.inference_provisioned_concurrency
}

locals {
  # The API and the function URL call the alias when provisioned concurrency is on, so they hit warm environments.
  inference_qualifier  = try(aws_lambda_alias.inference[0].name, null)
  inference_invoke_arn = try(aws_lambda_alias.inference[0].invoke_arn, aws_lambda_function.inference.invoke_arn)
}

resource "aws_sqs_queue" "loader_failures" {
  name                      = "${local.loader_name}-failures"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true

  tags = merge({ Name = "${local.loader_name}-failures" }, var.tags)
}

# S3 invokes the loader asynchronously: after the retries, the event and the error land in the failure queue.
resource "aws_lambda_function_event_invoke_config" "loader" {
  function_name          = aws_lambda_function.loader.function_name
  maximum_retry_attempts = var.loader_maximum_retry_attempts

  destination_config {
    on_failure {
      destination = aws_sqs_queue.loader_failures.arn
    }
  }

  depends_on = [aws_iam_role_policy.loader]
}
