locals {
  create_http_api = var.api_type == "http"
  create_rest_api = var.api_type == "rest"
}

# ---------------------------------------------------------------- HTTP API (default)

resource "aws_cloudwatch_log_group" "api" {
  count = local.create_http_api ? 1 : 0

  name              = "/aws/apigateway/${local.inference_name}"
  retention_in_days = var.log_retention_days

  tags = merge({ Name = "${local.inference_name}-api" }, var.tags)
}

resource "aws_apigatewayv2_api" "http" {
  count = local.create_http_api ? 1 : 0

  name          = local.inference_name
  description   = "Inference API of ${var.name}"
  protocol_type = "HTTP"

  dynamic "cors_configuration" {
    for_each = local.cors_enabled ? [var.cors] : []

    content {
      allow_origins  = cors_configuration.value.allow_origins
      allow_methods  = cors_configuration.value.allow_methods
      allow_headers  = cors_configuration.value.allow_headers
      expose_headers = cors_configuration.value.expose_headers
      max_age        = cors_configuration.value.max_age
    }
  }

  tags = merge({ Name = local.inference_name }, var.tags)
}

resource "aws_apigatewayv2_integration" "http" {
  count = local.create_http_api ? 1 : 0

  api_id                 = aws_apigatewayv2_api.http[0].id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = local.inference_invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = min(30000, var.inference_timeout * 1000 + 1000)
}

# Bearer tokens of an OIDC issuer (Cognito or any other), checked by API Gateway before the function is invoked.
resource "aws_apigatewayv2_authorizer" "jwt" {
  count = local.create_http_api && var.api_authorization_type == "JWT" ? 1 : 0

  api_id           = aws_apigatewayv2_api.http[0].id
  name             = "${local.inference_name}-jwt"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = var.api_jwt.issuer
    audience = var.api_jwt.audience
  }

  lifecycle {
    precondition {
      condition     = var.api_jwt != null
      error_message = "api_authorization_type JWT needs api_jwt (the token issuer and audiences)."
    }
  }
}

# Every path goes to the function, which answers unknown paths and methods with JSON 404/405.
resource "aws_apigatewayv2_route" "http" {
  count = local.create_http_api ? 1 : 0

  api_id             = aws_apigatewayv2_api.http[0].id
  route_key          = "$default"
  target             = "integrations/${aws_apigatewayv2_integration.http[0].id}"
  authorization_type = var.api_authorization_type
  authorizer_id      = try(aws_apigatewayv2_authorizer.jwt[0].id, null)
}

resource "aws_apigatewayv2_stage" "http" {
  count = local.create_http_api ? 1 : 0

  api_id      = aws_apigatewayv2_api.http[0].id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.api_throttling.rate_limit
    throttling_burst_limit = var.api_throttling.burst_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api[0].arn
    format = jsonencode({
      requestId        = "$context.requestId"
      ip               = "$context.identity.sourceIp"
      requestTime      = "$context.requestTime"
      httpMethod       = "$context.httpMethod"
      path             = "$context.path"
      status           = "$context.status"
      responseLength   = "$context.responseLength"
      integrationError = "$context.integrationErrorMessage"
      latency          = "$context.responseLatency"
      # Who called: the signing principal (AWS_IAM) or the token's subject (JWT); empty on an open API.
      caller     = "$context.identity.userArn"
      callerKey  = "$context.identity.accessKey"
      jwtSubject = "$context.authorizer.claims.sub"
    })
  }

  tags = merge({ Name = local.inference_name }, var.tags)
}

resource "aws_lambda_permission" "http_api" {
  count = local.create_http_api ? 1 : 0

  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.inference.function_name
  qualifier     = local.inference_qualifier
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http[0].execution_arn}/*"
}

# ---------------------------------------------------------------- REST API (option)

resource "aws_api_gateway_rest_api" "this" {
  count = local.create_rest_api ? 1 : 0

  name        = local.inference_name
  description = "Inference API of ${var.name}"

  # Binary tensor requests reach the function base64-encoded, and its base64 answers go back as bytes, whatever
  # the client's Content-Type and Accept (tritonclient sets neither to a binary type); JSON answers pass as text.
  binary_media_types = ["*/*"]

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = merge({ Name = local.inference_name }, var.tags)

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_resource" "proxy" {
  count = local.create_rest_api ? 1 : 0

  rest_api_id = aws_api_gateway_rest_api.this[0].id
  parent_id   = aws_api_gateway_rest_api.this[0].root_resource_id
  path_part   = "{proxy+}"
}

locals {
  # The root path and every path below it, both proxied to the function.
  rest_resource_ids = local.create_rest_api ? {
    root  = aws_api_gateway_rest_api.this[0].root_resource_id
    proxy = aws_api_gateway_resource.proxy[0].id
  } : {}
}

resource "aws_api_gateway_method" "rest" {
  for_each = local.rest_resource_ids

  rest_api_id   = aws_api_gateway_rest_api.this[0].id
  resource_id   = each.value
  http_method   = "ANY"
  authorization = var.api_authorization_type

  lifecycle {
    precondition {
      condition     = var.api_authorization_type != "JWT"
      error_message = "JWT authorization is for the HTTP API (api_type = \"http\"); the REST API takes NONE or AWS_IAM."
    }
  }
}

resource "aws_api_gateway_integration" "rest" {
  for_each = local.rest_resource_ids

  rest_api_id             = aws_api_gateway_rest_api.this[0].id
  resource_id             = each.value
  http_method             = aws_api_gateway_method.rest[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = local.inference_invoke_arn
  timeout_milliseconds    = min(29000, var.inference_timeout * 1000 + 1000)
}

resource "aws_api_gateway_deployment" "rest" {
  count = local.create_rest_api ? 1 : 0

  rest_api_id = aws_api_gateway_rest_api.this[0].id

  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_resource.proxy[0].id,
      [for method in aws_api_gateway_method.rest : [method.id, method.authorization]],
      [for integration in aws_api_gateway_integration.rest : [integration.id, integration.uri]],
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_stage" "rest" {
  count = local.create_rest_api ? 1 : 0

  rest_api_id   = aws_api_gateway_rest_api.this[0].id
  deployment_id = aws_api_gateway_deployment.rest[0].id
  stage_name    = "live"

  tags = merge({ Name = local.inference_name }, var.tags)
}

resource "aws_api_gateway_method_settings" "rest" {
  count = local.create_rest_api ? 1 : 0

  rest_api_id = aws_api_gateway_rest_api.this[0].id
  stage_name  = aws_api_gateway_stage.rest[0].stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    throttling_rate_limit  = var.api_throttling.rate_limit
    throttling_burst_limit = var.api_throttling.burst_limit
  }
}

resource "aws_lambda_permission" "rest_api" {
  count = local.create_rest_api ? 1 : 0

  statement_id  = "AllowRestApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.inference.function_name
  qualifier     = local.inference_qualifier
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this[0].execution_arn}/*"
}

# ---------------------------------------------------------------- Function URL (option)

# Only with AWS_IAM auth: callers then need lambda:InvokeFunctionUrl and lambda:InvokeFunction in their own IAM
# policies. A public URL (NONE) needs a resource policy granting everyone lambda:InvokeFunction under the condition
# lambda:InvokedViaFunctionUrl, which this provider cannot express; granting it unconditioned would open the
# function to direct invocation by anyone, so that combination is refused.
resource "aws_lambda_function_url" "inference" {
  count = var.create_function_url ? 1 : 0

  function_name      = aws_lambda_function.inference.function_name
  qualifier          = local.inference_qualifier
  authorization_type = var.api_authorization_type

  dynamic "cors" {
    for_each = local.cors_enabled ? [var.cors] : []

    content {
      allow_origins  = cors.value.allow_origins
      allow_methods  = cors.value.allow_methods
      allow_headers  = cors.value.allow_headers
      expose_headers = cors.value.expose_headers
      max_age        = cors.value.max_age
    }
  }

  lifecycle {
    precondition {
      condition     = var.api_authorization_type == "AWS_IAM"
      error_message = "create_function_url needs api_authorization_type = \"AWS_IAM\": a public function URL needs a lambda:InvokeFunction grant to everyone restricted to function-URL calls, which hashicorp/aws 5.x cannot write. Use the API for public access."
    }
  }
}

locals {
  inference_url = trimsuffix(coalesce(
    try(aws_apigatewayv2_stage.http[0].invoke_url, null),
    try(aws_api_gateway_stage.rest[0].invoke_url, null),
  ), "/")
}

# ---------------------------------------------------------------- Who may call it

locals {
  # Execution ARNs of what a caller invokes: every stage, method and path of the API, and the function URL.
  api_execution_arn = coalesce(
    try(aws_apigatewayv2_api.http[0].execution_arn, null),
    try(aws_api_gateway_rest_api.this[0].execution_arn, null),
  )

  invoke_policy = {
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid      = "InvokeInferenceApi"
        Effect   = "Allow"
        Action   = "execute-api:Invoke"
        Resource = "${local.api_execution_arn}/*"
      }],
      var.create_function_url ? [{
        Sid      = "InvokeInferenceFunctionUrl"
        Effect   = "Allow"
        Action   = ["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"]
        Resource = try(aws_lambda_alias.inference[0].arn, aws_lambda_function.inference.arn)
      }] : [],
    )
  }

  # What an open API can cost at worst: every request runs the whole timeout, on every environment Lambda starts.
  gb_second_price       = var.architecture == "arm64" ? 0.0000133334 : 0.0000166667
  environment_hour_cost = var.inference_memory_size / 1024 * 3600 * local.gb_second_price
}

# A warning, not an error: an open API is a choice the user may make, and the plan says what it can cost.
check "open_api_spend" {
  assert {
    condition = var.api_authorization_type != "NONE"
    error_message = format(
      "api_authorization_type = \"NONE\": anyone with the URL can call the inference function. At worst every request runs the full %d s timeout, and each concurrent environment then costs about $%.2f an hour (%d MB, us-east-1 prices): %s. Cap it with inference_reserved_concurrency, or require callers with AWS_IAM (the default) or JWT.",
      var.inference_timeout,
      local.environment_hour_cost,
      var.inference_memory_size,
      var.inference_reserved_concurrency == null ? format("$%.2f an hour at a new account's 10, $%.2f at the default quota of 1,000", local.environment_hour_cost * 10, local.environment_hour_cost * 1000) : format("$%.2f an hour at its reserved concurrency of %d", local.environment_hour_cost * var.inference_reserved_concurrency, var.inference_reserved_concurrency),
    )
  }
}
