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
    # The loader alone reads S3: it knows its bucket, and refuses events naming any other.
    variables = merge(local.common_environment, {
      POWERTOOLS_SERVICE_NAME = "loader"
      MODEL_BUCKET            = var.bucket_name
      MAX_MODEL_BYTES         = tostring(var.max_model_bytes)
    })
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.loader_security_group_ids
  }

  file_system_config {
    arn              = var.efs_access_point_arn
    local_mount_path = local.model_dir
  }

  tags = merge({ Name = local.loader_name }, var.tags)

  lifecycle {
    precondition {
      condition     = !contains(local.regions_without_lambda_efs, local.region)
      error_message = "Lambda cannot mount EFS in ${local.region}, and both functions need it: deploy in another region."
    }
  }

  depends_on = [
    aws_cloudwatch_log_group.loader,
    aws_iam_role_policy.loader,
    aws_iam_role_policy.loader_eni,
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
    security_group_ids = var.inference_security_group_ids
  }

  file_system_config {
    arn              = var.efs_access_point_arn
    local_mount_path = local.model_dir
  }

  tags = merge({ Name = local.inference_name }, var.tags)

  lifecycle {
    precondition {
      condition     = var.inference_timeout <= (var.api_type == "rest" ? 28 : 29)
      error_message = "inference_timeout is ${var.inference_timeout} s, but API Gateway stops waiting after ${var.api_type == "rest" ? 29 : 30} s and the client would get a 504 while the function runs on: use at most ${var.api_type == "rest" ? 28 : 29} s."
    }

    precondition {
      condition     = var.inference_reserved_concurrency == null || var.inference_provisioned_concurrency <= coalesce(var.inference_reserved_concurrency, 0)
      error_message = "inference_provisioned_concurrency (${var.inference_provisioned_concurrency}) cannot exceed inference_reserved_concurrency: provisioned environments come out of the reserved ones."
    }

    precondition {
      condition     = local.account_concurrency == null || local.concurrency_asked <= local.concurrency_reservable
      error_message = "The account's Lambda concurrency quota in this region is ${coalesce(local.account_concurrency, 0)}, and Lambda keeps up to 100 of it unreserved: reserving or provisioning ${local.concurrency_asked} fails. New accounts start at 10; ask for more in Service Quotas (Lambda, Concurrent executions), or leave both at their defaults."
    }
  }

  depends_on = [
    aws_cloudwatch_log_group.inference,
    aws_iam_role_policy.inference,
    aws_iam_role_policy.inference_eni,
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

# The account's concurrency quota, read only when the deployment reserves or provisions concurrency.
data "aws_servicequotas_service_quota" "lambda_concurrency" {
  count = local.concurrency_asked > 0 ? 1 : 0

  service_code = "lambda"
  quota_code   = "L-B99A9384" # Concurrent executions
}

locals {
  concurrency_asked   = max(coalesce(var.inference_reserved_concurrency, 0), var.inference_provisioned_concurrency)
  account_concurrency = try(data.aws_servicequotas_service_quota.lambda_concurrency[0].value, null)
  # Lambda keeps up to 100 units of the quota for functions without a reservation.
  concurrency_reservable = coalesce(local.account_concurrency, 0) - min(coalesce(local.account_concurrency, 0), 100)

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
