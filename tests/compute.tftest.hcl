# Wiring of the compute module against a mocked AWS provider (nothing is created).

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name                         = "test"
  subnet_ids                   = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
  loader_security_group_ids    = ["sg-0123456789abcdef0"]
  inference_security_group_ids = ["sg-0fedcba9876543210"]
  bucket_name                  = "test-models"
  bucket_arn                   = "arn:aws:s3:::test-models"
  efs_file_system_arn          = "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-12345678"
  efs_access_point_arn         = "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-12345678"
  image_uri                    = "123456789012.dkr.ecr.us-east-1.amazonaws.com/serverless-sklearn:test"
}

override_resource {
  target = aws_lambda_function.loader
  values = {
    arn        = "arn:aws:lambda:us-east-1:123456789012:function:test-loader"
    invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:test-loader/invocations"
  }
}

override_resource {
  target = aws_lambda_function.inference
  values = {
    arn        = "arn:aws:lambda:us-east-1:123456789012:function:test-inference"
    invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:test-inference/invocations"
    version    = "1"
  }
}

run "functions_mount_the_access_point_in_the_given_subnets" {
  module {
    source = "./modules/compute"
  }

  assert {
    condition = alltrue([
      for fn in [aws_lambda_function.loader, aws_lambda_function.inference] :
      fn.file_system_config[0].arn == var.efs_access_point_arn &&
      fn.file_system_config[0].local_mount_path == "/mnt/ml" &&
      toset(fn.vpc_config[0].subnet_ids) == toset(var.subnet_ids)
    ])
    error_message = "both functions must mount the access point at /mnt/ml from the private subnets"
  }

  assert {
    condition     = toset(aws_lambda_function.loader.vpc_config[0].security_group_ids) == toset(var.loader_security_group_ids) && toset(aws_lambda_function.inference.vpc_config[0].security_group_ids) == toset(var.inference_security_group_ids)
    error_message = "each function must sit in its own security group: only the loader's reaches S3"
  }
}

run "defaults_cost_nothing_while_idle" {
  module {
    source = "./modules/compute"
  }

  assert {
    condition     = length(aws_lambda_provisioned_concurrency_config.inference) == 0 && !aws_lambda_function.inference.publish
    error_message = "no provisioned concurrency by default"
  }

  assert {
    condition = alltrue([
      for group in [aws_cloudwatch_log_group.loader, aws_cloudwatch_log_group.inference, aws_cloudwatch_log_group.api[0]] :
      group.retention_in_days == 30
    ])
    error_message = "every log group must have a retention"
  }

  assert {
    condition     = aws_lambda_function.inference.memory_size <= 3008 && aws_lambda_function.loader.memory_size <= 3008 && aws_lambda_function.inference.timeout == 28
    error_message = "function defaults must fit a new account's 3,008 MB memory quota, and the inference timeout must end before the API's"
  }

  assert {
    condition     = aws_lambda_function.inference.reserved_concurrent_executions == -1
    error_message = "no concurrency is reserved by default"
  }
}

run "notification_targets_the_loader_for_created_and_removed_models" {
  module {
    source = "./modules/compute"
  }

  assert {
    condition     = length(aws_s3_bucket_notification.this.lambda_function) == 8
    error_message = "one notification per allowed format, per probe sample format, for MLmodel, for serving settings and for MLflow input examples are expected"
  }

  assert {
    condition = alltrue([
      for config in aws_s3_bucket_notification.this.lambda_function :
      config.lambda_function_arn == aws_lambda_function.loader.arn && (
        startswith(config.filter_suffix, ".") || contains(["MLmodel", "serving.json"], config.filter_suffix)
        ? toset(config.events) == toset(["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
        : toset(config.events) == toset(["s3:ObjectCreated:*"])
      )
    ])
    error_message = "models, MLmodel files and serving settings must notify the loader on created and removed events, samples and input examples on created events"
  }

  assert {
    condition     = toset([for config in aws_s3_bucket_notification.this.lambda_function : config.filter_suffix]) == toset([".joblib", ".pkl", ".skops", "MLmodel", "serving.json", "sample.json", "sample.npy", "input_example.json"])
    error_message = "the suffix filters must follow allowed_model_formats, plus MLflow's files and the probe samples"
  }

  assert {
    condition     = aws_s3_bucket_notification.this.bucket == var.bucket_name
    error_message = "the notification must be on the model bucket"
  }
}

run "only_the_model_bucket_may_invoke_the_loader" {
  module {
    source = "./modules/compute"
  }

  assert {
    condition     = aws_lambda_permission.s3_invoke_loader.source_arn == var.bucket_arn
    error_message = "the permission's source ARN must be the model bucket"
  }

  assert {
    condition     = aws_lambda_permission.s3_invoke_loader.source_account == "123456789012"
    error_message = "the permission must name the bucket owner's account"
  }

  assert {
    condition     = aws_lambda_permission.s3_invoke_loader.principal == "s3.amazonaws.com"
    error_message = "only S3 may invoke the loader"
  }
}

run "one_image_two_entry_points" {
  module {
    source = "./modules/compute"
  }

  assert {
    condition     = aws_lambda_function.loader.image_uri == var.image_uri && aws_lambda_function.inference.image_uri == var.image_uri
    error_message = "both functions must run the given image"
  }

  assert {
    condition     = aws_lambda_function.loader.image_config[0].command == tolist(["lambdas.loader.handler.lambda_handler"])
    error_message = "the loader must override the image's command"
  }

  assert {
    condition     = length(aws_lambda_function.inference.image_config) == 0
    error_message = "the inference function must use the image's own command"
  }
}

run "functions_read_their_settings_from_the_environment" {
  module {
    source = "./modules/compute"
  }

  variables {
    model_prefix          = "team/models"
    model_cache_max_bytes = 1073741824
  }

  assert {
    condition = aws_lambda_function.loader.environment[0].variables == tomap({
      MODEL_DIR                    = "/mnt/ml"
      MODEL_PREFIX                 = "team/models/"
      MODEL_REFRESH_SECONDS        = "5"
      MODEL_CACHE_MAX_BYTES        = "1073741824"
      ALLOWED_MODEL_FORMATS        = "joblib,pkl,skops"
      ONNX_FAST_PATH               = "true"
      MODEL_VERSION_POLICY         = "serve"
      POWERTOOLS_SERVICE_NAME      = "loader"
      MODEL_BUCKET                 = "test-models"
      MAX_MODEL_BYTES              = "4294967296"
      POWERTOOLS_METRICS_NAMESPACE = "ServerlessSklearn"
      LOG_LEVEL                    = "INFO"
    })
    error_message = "the loader must get the model settings and its service name"
  }

  assert {
    condition = aws_lambda_function.inference.environment[0].variables == tomap(merge(
      { for name, value in aws_lambda_function.loader.environment[0].variables : name => value if !contains(["MODEL_BUCKET", "MAX_MODEL_BYTES"], name) },
      { POWERTOOLS_SERVICE_NAME = "inference" }
    ))
    error_message = "the inference function must get the same settings and its own service name, and nothing of the bucket"
  }

  assert {
    condition     = alltrue([for config in aws_s3_bucket_notification.this.lambda_function : config.filter_prefix == "team/models/"])
    error_message = "the notification prefix must be the model prefix with one trailing slash"
  }
}

run "skops_only_deployment_neither_loads_nor_is_notified_of_pickles" {
  module {
    source = "./modules/compute"
  }

  variables {
    allowed_model_formats = ["skops"]
    enable_onnx_fast_path = false
  }

  assert {
    condition     = aws_lambda_function.loader.environment[0].variables.ALLOWED_MODEL_FORMATS == "skops"
    error_message = "the loader must be told to accept only skops"
  }

  assert {
    condition     = aws_lambda_function.inference.environment[0].variables.ONNX_FAST_PATH == "false"
    error_message = "the ONNX fast path must follow enable_onnx_fast_path"
  }

  assert {
    condition     = [for config in aws_s3_bucket_notification.this.lambda_function : config.filter_suffix] == [".skops", "MLmodel", "serving.json", "sample.json", "sample.npy", "input_example.json"]
    error_message = "only .skops uploads, probe samples (which sign a model with or without the fast path), serving settings and MLflow directories' MLmodel and input example may notify the loader"
  }
}

run "the_version_policy_reaches_the_loader" {
  module {
    source = "./modules/compute"
  }

  variables {
    model_version_policy = "reject"
  }

  assert {
    condition     = aws_lambda_function.loader.environment[0].variables.MODEL_VERSION_POLICY == "reject"
    error_message = "the loader must be told to refuse models saved by another scikit-learn minor version"
  }
}

run "only_the_operator_widens_the_trusted_skops_types" {
  module {
    source = "./modules/compute"
  }

  assert {
    condition     = !contains(keys(aws_lambda_function.loader.environment[0].variables), "SKOPS_TRUSTED_TYPES") && !contains(keys(aws_lambda_function.inference.environment[0].variables), "SKOPS_TRUSTED_TYPES")
    error_message = "by default both functions trust skops' own types and no other"
  }
}

run "the_operators_trusted_skops_types_reach_both_functions" {
  module {
    source = "./modules/compute"
  }

  variables {
    skops_trusted_types = ["numpy.dtype", "collections.OrderedDict"]
  }

  assert {
    condition     = aws_lambda_function.loader.environment[0].variables.SKOPS_TRUSTED_TYPES == "numpy.dtype,collections.OrderedDict" && aws_lambda_function.inference.environment[0].variables.SKOPS_TRUSTED_TYPES == "numpy.dtype,collections.OrderedDict"
    error_message = "both functions must read the types the operator trusts from their environment"
  }
}

run "a_trusted_skops_type_must_be_a_dotted_path" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    skops_trusted_types = ["numpy.dtype", "exec"]
  }

  expect_failures = [var.skops_trusted_types]
}

run "max_model_bytes_must_be_positive" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    max_model_bytes = 0
  }

  expect_failures = [var.max_model_bytes]
}

run "an_unknown_version_policy_is_refused_at_plan" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    model_version_policy = "warn"
  }

  expect_failures = [var.model_version_policy]
}

run "iam_is_scoped_to_what_each_function_does" {
  module {
    source = "./modules/compute"
  }

  assert {
    condition = alltrue([
      for pair in [[aws_iam_role_policy.loader_eni.policy, aws_lambda_function.loader.arn], [aws_iam_role_policy.inference_eni.policy, aws_lambda_function.inference.arn]] :
      toset(flatten([for statement in jsondecode(pair[0]).Statement : statement.Action if statement.Effect == "Allow"])) == toset(["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"])
      && anytrue([
        for statement in jsondecode(pair[0]).Statement :
        statement.Effect == "Deny" && length(statement.Action) == 6 && try(contains(statement.Condition.ArnEquals["lambda:SourceFunctionArn"], pair[1]), false)
      ])
    ])
    error_message = "each function gets the network-interface actions the Lambda documentation lists, inline, and a Deny of them all to its own code (lambda:SourceFunctionArn)"
  }

  assert {
    condition = alltrue(flatten([
      for policy in [aws_iam_role_policy.loader_eni.policy, aws_iam_role_policy.inference_eni.policy] : [
        for statement in jsondecode(policy).Statement : statement.Resource != "*" || alltrue([for action in flatten([statement.Action]) : startswith(action, "ec2:Describe")])
        if statement.Effect == "Allow"
      ]
    ]))
    error_message = "only the Describe actions, which take no resource, may be allowed on every resource"
  }

  assert {
    condition = alltrue([
      for pair in [[aws_iam_role_policy.loader.policy, aws_cloudwatch_log_group.loader.arn], [aws_iam_role_policy.inference.policy, aws_cloudwatch_log_group.inference.arn]] :
      flatten([for statement in jsondecode(pair[0]).Statement : statement.Resource if anytrue([for action in flatten([statement.Action]) : startswith(action, "logs:")])]) == ["${pair[1]}:*"]
    ])
    error_message = "each function may write its own log group only"
  }

  assert {
    condition = alltrue(flatten([
      for policy in [aws_iam_role_policy.loader.policy, aws_iam_role_policy.inference.policy] : [
        for statement in jsondecode(policy).Statement : [
          for action in flatten([statement.Action]) : !strcontains(action, "*")
        ]
      ]
    ]))
    error_message = "no policy may grant a wildcard action"
  }

  assert {
    condition = alltrue(flatten([
      for policy in [aws_iam_role_policy.loader.policy, aws_iam_role_policy.inference.policy] : [
        for statement in jsondecode(policy).Statement : [for resource in flatten([statement.Resource]) : resource != "*"]
      ]
    ]))
    error_message = "no policy may grant on every resource"
  }

  assert {
    condition = !anytrue([
      for statement in jsondecode(aws_iam_role_policy.inference.policy).Statement :
      anytrue([for action in flatten([statement.Action]) : startswith(action, "s3:") || action == "elasticfilesystem:ClientWrite"])
    ])
    error_message = "the inference function must have no S3 access and no write access to EFS"
  }

  assert {
    condition = toset(flatten([
      for statement in jsondecode(aws_iam_role_policy.loader.policy).Statement :
      flatten([statement.Resource]) if anytrue([for action in flatten([statement.Action]) : startswith(action, "s3:")])
    ])) == toset([var.bucket_arn, "${var.bucket_arn}/*"])
    error_message = "the loader may read the model bucket only"
  }

  assert {
    condition = alltrue([
      for statement in concat(jsondecode(aws_iam_role_policy.loader.policy).Statement, jsondecode(aws_iam_role_policy.inference.policy).Statement) :
      statement.Condition["StringEquals"]["elasticfilesystem:AccessPointArn"] == var.efs_access_point_arn
      if anytrue([for action in flatten([statement.Action]) : startswith(action, "elasticfilesystem:")])
    ])
    error_message = "EFS may be mounted through the access point only"
  }
}

run "loader_failures_go_to_the_encrypted_queue_and_raise_an_alarm" {
  module {
    source = "./modules/compute"
  }

  assert {
    condition     = aws_sqs_queue.loader_failures.sqs_managed_sse_enabled
    error_message = "the failure queue must be encrypted"
  }

  assert {
    condition     = aws_lambda_function_event_invoke_config.loader.destination_config[0].on_failure[0].destination == aws_sqs_queue.loader_failures.arn
    error_message = "the loader's on-failure destination must be the failure queue"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.loader_failures.dimensions.QueueName == aws_sqs_queue.loader_failures.name
    error_message = "the failure alarm must watch the failure queue"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.inference_5xx.metric_name == "5xx" && aws_cloudwatch_metric_alarm.inference_5xx.dimensions.ApiId == aws_apigatewayv2_api.http[0].id
    error_message = "the 5xx alarm must watch the HTTP API"
  }
}

run "http_api_by_default_asking_who_is_calling" {
  module {
    source = "./modules/compute"
  }

  assert {
    condition     = length(aws_api_gateway_rest_api.this) == 0 && length(aws_apigatewayv2_api.http) == 1
    error_message = "the HTTP API is the default"
  }

  assert {
    condition     = aws_apigatewayv2_route.http[0].authorization_type == "AWS_IAM"
    error_message = "the route must require SigV4-signed requests unless the user writes otherwise"
  }

  assert {
    condition = jsondecode(output.inference_invoke_policy).Statement == [{
      Sid      = "InvokeInferenceApi"
      Effect   = "Allow"
      Action   = "execute-api:Invoke"
      Resource = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/*"
    }]
    error_message = "the invoke policy must grant execute-api:Invoke on every route of this API, and nothing else"
  }

  assert {
    condition     = strcontains(aws_apigatewayv2_stage.http[0].access_log_settings[0].format, "$context.identity.userArn") && strcontains(aws_apigatewayv2_stage.http[0].access_log_settings[0].format, "$context.authorizer.claims.sub")
    error_message = "the access log must record who called: the signing principal or the token's subject"
  }

  assert {
    condition     = aws_apigatewayv2_integration.http[0].integration_uri == aws_lambda_function.inference.invoke_arn && aws_apigatewayv2_integration.http[0].payload_format_version == "2.0"
    error_message = "the API must proxy to the inference function with payload 2.0"
  }

  assert {
    condition     = output.inference_url == "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
    error_message = "inference_url must be the stage URL without a trailing slash"
  }
}

run "rest_api_and_function_url_as_options" {
  module {
    source = "./modules/compute"
  }

  variables {
    api_type               = "rest"
    api_authorization_type = "AWS_IAM"
    create_function_url    = true
    cors                   = { allow_origins = ["https://example.com"] }
  }

  assert {
    condition     = length(aws_apigatewayv2_api.http) == 0 && length(aws_api_gateway_rest_api.this) == 1
    error_message = "api_type rest must create a REST API instead of the HTTP API"
  }

  assert {
    condition     = alltrue([for method in aws_api_gateway_method.rest : method.authorization == "AWS_IAM"])
    error_message = "every REST method must require IAM auth when asked"
  }

  assert {
    condition     = output.inference_url == "https://r1s2t3u4v5.execute-api.us-east-1.amazonaws.com/live"
    error_message = "inference_url must be the REST stage URL"
  }

  assert {
    condition     = aws_lambda_function_url.inference[0].authorization_type == "AWS_IAM" && aws_lambda_function_url.inference[0].cors[0].allow_origins == toset(["https://example.com"])
    error_message = "the function URL must follow the auth and CORS settings"
  }

  assert {
    condition     = [for statement in jsondecode(output.inference_invoke_policy).Statement : statement.Resource] == ["arn:aws:execute-api:us-east-1:123456789012:r1s2t3u4v5/*", "arn:aws:lambda:us-east-1:123456789012:function:test-inference"]
    error_message = "the invoke policy must name the REST API and the function URL's function"
  }

  assert {
    condition     = aws_api_gateway_rest_api.this[0].binary_media_types == tolist(["*/*"])
    error_message = "the REST API must carry binary tensor bodies both ways"
  }

  assert {
    condition     = alltrue([for integration in aws_api_gateway_integration.rest : integration.timeout_milliseconds == 29000])
    error_message = "the REST integration must wait one second longer than the function's 28 s, within API Gateway's 29 s"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.inference_5xx.metric_name == "5XXError"
    error_message = "the 5xx alarm must watch the REST API"
  }
}

run "an_open_api_is_a_choice_the_plan_warns_about" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    api_authorization_type = "NONE"
  }

  # A check is a warning: the plan goes on, and says what the open API can cost at worst.
  expect_failures = [check.open_api_spend]

  assert {
    condition     = aws_apigatewayv2_route.http[0].authorization_type == "NONE"
    error_message = "NONE, written by the user, opens the route"
  }
}

run "a_jwt_authorizer_guards_the_http_api" {
  module {
    source = "./modules/compute"
  }

  variables {
    api_authorization_type = "JWT"
    api_jwt = {
      issuer   = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example"
      audience = ["app-client-id"]
    }
  }

  assert {
    condition     = aws_apigatewayv2_route.http[0].authorization_type == "JWT" && aws_apigatewayv2_route.http[0].authorizer_id == aws_apigatewayv2_authorizer.jwt[0].id
    error_message = "the route must require a token checked by the JWT authorizer"
  }

  assert {
    condition     = aws_apigatewayv2_authorizer.jwt[0].jwt_configuration[0].issuer == var.api_jwt.issuer && aws_apigatewayv2_authorizer.jwt[0].identity_sources == toset(["$request.header.Authorization"])
    error_message = "the authorizer must check bearer tokens of the given issuer"
  }
}

run "jwt_needs_its_issuer_and_the_http_api" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    api_type               = "rest"
    api_authorization_type = "JWT"
  }

  expect_failures = [aws_api_gateway_method.rest]
}

run "a_region_where_lambda_cannot_mount_efs_is_refused_at_plan" {
  command = plan

  module {
    source = "./modules/compute"
  }

  override_data {
    target = data.aws_region.current
    values = {
      name = "ca-west-1"
    }
  }

  expect_failures = [aws_lambda_function.loader]
}

run "a_public_function_url_is_refused_rather_than_opening_the_function" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    api_authorization_type = "NONE"
    create_function_url    = true
  }

  expect_failures = [aws_lambda_function_url.inference, check.open_api_spend]
}

run "a_rest_api_refuses_a_function_that_outlives_it" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    api_type          = "rest"
    inference_timeout = 29
  }

  expect_failures = [aws_lambda_function.inference]
}

run "an_http_api_refuses_a_function_that_outlives_it" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    inference_timeout = 30
  }

  expect_failures = [aws_lambda_function.inference]
}

run "provisioned_beyond_reserved_concurrency_is_refused" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    inference_reserved_concurrency    = 5
    inference_provisioned_concurrency = 10
  }

  expect_failures = [aws_lambda_function.inference]
}

run "reserved_concurrency_on_a_new_account_is_refused_at_plan" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    inference_reserved_concurrency = 5
  }

  override_data {
    target = data.aws_servicequotas_service_quota.lambda_concurrency
    values = {
      value = 10
    }
  }

  expect_failures = [aws_lambda_function.inference]
}

run "reserved_concurrency_within_the_quota_is_accepted" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    inference_reserved_concurrency = 50
  }

  override_data {
    target = data.aws_servicequotas_service_quota.lambda_concurrency
    values = {
      value = 1000
    }
  }

  assert {
    condition     = aws_lambda_function.inference.reserved_concurrent_executions == 50
    error_message = "a reservation the quota allows must be passed on"
  }
}

run "provisioned_concurrency_is_served_through_an_alias" {
  module {
    source = "./modules/compute"
  }

  variables {
    inference_provisioned_concurrency = 2
  }

  assert {
    condition     = aws_lambda_provisioned_concurrency_config.inference[0].provisioned_concurrent_executions == 2 && aws_lambda_function.inference.publish
    error_message = "provisioned concurrency must be configured on a published version"
  }

  assert {
    condition     = aws_apigatewayv2_integration.http[0].integration_uri == aws_lambda_alias.inference[0].invoke_arn
    error_message = "the API must call the alias that has the warm environments"
  }
}

run "rejects_unknown_model_formats" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    allowed_model_formats = ["skops", "onnx"]
  }

  expect_failures = [var.allowed_model_formats]
}

run "rejects_no_model_format" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    allowed_model_formats = []
  }

  expect_failures = [var.allowed_model_formats]
}

run "rejects_an_absolute_or_escaping_prefix" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    model_prefix = "/models/../x"
  }

  expect_failures = [var.model_prefix]
}

run "rejects_out_of_range_functions" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    inference_memory_size             = 20000
    inference_timeout                 = 0
    loader_memory_size                = 64
    loader_timeout                    = 901
    loader_maximum_retry_attempts     = 3
    inference_provisioned_concurrency = -1
    model_refresh_seconds             = -1
  }

  expect_failures = [
    var.inference_memory_size,
    var.inference_timeout,
    var.loader_memory_size,
    var.loader_timeout,
    var.loader_maximum_retry_attempts,
    var.inference_provisioned_concurrency,
    var.model_refresh_seconds,
  ]
}

run "rejects_unknown_choices" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    architecture           = "sparc"
    api_type               = "websocket"
    api_authorization_type = "OAUTH"
    log_level              = "TRACE"
    log_retention_days     = 10
  }

  expect_failures = [
    var.architecture,
    var.api_type,
    var.api_authorization_type,
    var.log_level,
    var.log_retention_days,
  ]
}

run "the_conversion_size_limit_reaches_the_loader_when_set" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    onnx_max_model_bytes = 268435456
  }

  assert {
    condition     = aws_lambda_function.loader.environment[0].variables.ONNX_MAX_MODEL_BYTES == "268435456"
    error_message = "onnx_max_model_bytes must reach the loader as ONNX_MAX_MODEL_BYTES"
  }
}

run "onnx_max_model_bytes_must_be_positive" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    onnx_max_model_bytes = 0
  }

  expect_failures = [var.onnx_max_model_bytes]
}

run "captured_requests_go_from_the_log_stream_through_firehose_to_the_data_bucket" {
  command = apply

  module {
    source = "./modules/compute"
  }

  variables {
    data_bucket_arn        = "arn:aws:s3:::test-data"
    enable_request_capture = true
  }

  assert {
    condition     = aws_cloudwatch_log_subscription_filter.capture[0].log_group_name == aws_cloudwatch_log_group.inference.name && aws_cloudwatch_log_subscription_filter.capture[0].filter_pattern == "{ $.captureData.endpointInput.mode = \"INPUT\" }"
    error_message = "the subscription filter must take the capture records, and only them, from the inference function's log group"
  }

  assert {
    condition     = startswith(aws_kinesis_firehose_delivery_stream.capture[0].extended_s3_configuration[0].prefix, "capture/!{partitionKeyFromQuery:model}/!{partitionKeyFromQuery:version}/!{partitionKeyFromQuery:year}/") && aws_kinesis_firehose_delivery_stream.capture[0].extended_s3_configuration[0].bucket_arn == "arn:aws:s3:::test-data"
    error_message = "captured records must land under capture/MODEL/VERSION/yyyy/mm/dd/hh/ in the data bucket"
  }

  assert {
    condition     = [for processor in aws_kinesis_firehose_delivery_stream.capture[0].extended_s3_configuration[0].processing_configuration[0].processors : processor.type] == ["Decompression", "CloudWatchLogProcessing", "MetadataExtraction", "AppendDelimiterToRecord"]
    error_message = "subscription records must be unzipped, reduced to their messages, partitioned and written one per line"
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.capture_delivery[0].policy).Statement[0].Resource == ["arn:aws:s3:::test-data/capture/*", "arn:aws:s3:::test-data/capture-errors/*"]
    error_message = "Firehose may write under capture/ (and its error prefix) and nowhere else"
  }
}

run "capture_is_off_unless_asked_for" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    data_bucket_arn = "arn:aws:s3:::test-data"
  }

  assert {
    condition     = length(aws_kinesis_firehose_delivery_stream.capture) == 0 && length(aws_cloudwatch_log_subscription_filter.capture) == 0
    error_message = "without enable_request_capture the module must create no delivery stream or subscription"
  }
}

run "capture_needs_a_data_bucket" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    enable_request_capture = true
  }

  expect_failures = [aws_kinesis_firehose_delivery_stream.capture]
}

run "one_dashboard_and_an_error_alarm_per_named_model" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    model_error_alarms = { iris = {}, churn = { threshold_percent = 1, minimum_requests = 100 } }
  }

  assert {
    condition     = length(aws_cloudwatch_dashboard.this) == 1 && strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "ShadowAgreement") && strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "ModelEvicted")
    error_message = "the dashboard must show per-model figures, shadow agreement and the cache's evictions"
  }

  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.model_errors)) == toset(["iris", "churn"]) && aws_cloudwatch_metric_alarm.model_errors["churn"].threshold == 1 && aws_cloudwatch_metric_alarm.model_errors["iris"].threshold == 5
    error_message = "each named model gets its own error-rate alarm with its own threshold"
  }
}

run "an_alarm_names_a_model" {
  command = plan

  module {
    source = "./modules/compute"
  }

  variables {
    model_error_alarms = { "../iris" = {} }
  }

  expect_failures = [var.model_error_alarms]
}
