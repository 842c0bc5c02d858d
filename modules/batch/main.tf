data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id  = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition
  region      = data.aws_region.current.name
  worker_name = "${var.name}-batch"
  model_dir   = "/mnt/ml"
  worker_arn  = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.worker_name}"
  machine_arn = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${local.worker_name}"
}

# --- the worker: the image's third command, EFS mounted read-only, the data bucket's input/ and output/ alone ---

resource "aws_cloudwatch_log_group" "worker" {
  name              = "/aws/lambda/${local.worker_name}"
  retention_in_days = var.log_retention_days

  tags = merge({ Name = local.worker_name }, var.tags)
}

resource "aws_iam_role" "worker" {
  name_prefix = "${substr(local.worker_name, 0, 37)}-"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })

  tags = merge({ Name = local.worker_name }, var.tags)
}

resource "aws_iam_role_policy" "worker" {
  name = "batch-worker"
  role = aws_iam_role.worker.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.worker.arn}:*"
      },
      {
        Sid      = "ReadJobInputs"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:GetObjectVersion"]
        Resource = "${var.data_bucket_arn}/input/*"
      },
      {
        # Parts, then the answers, the errors and the manifest; the parts are removed once assembled.
        Sid      = "WriteJobOutputs"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
        Resource = "${var.data_bucket_arn}/output/*"
      },
      {
        # Lets a missing input answer 404 rather than 403.
        Sid       = "ListJobPrefixes"
        Effect    = "Allow"
        Action    = "s3:ListBucket"
        Resource  = var.data_bucket_arn
        Condition = { StringLike = { "s3:prefix" = ["input/*", "output/*"] } }
      },
      {
        Sid       = "ReadModelFileSystem"
        Effect    = "Allow"
        Action    = "elasticfilesystem:ClientMount"
        Resource  = var.efs_file_system_arn
        Condition = { StringEquals = { "elasticfilesystem:AccessPointArn" = var.efs_access_point_arn } }
      },
    ]
  })
}

# Network interfaces for Lambda's own calls, never for function code (as the compute module's functions).
resource "aws_iam_role_policy" "worker_eni" {
  name = "network-interfaces"
  role = aws_iam_role.worker.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ManageNetworkInterfacesInThisAccount"
        Effect   = "Allow"
        Action   = ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
        Resource = "arn:${local.partition}:ec2:${local.region}:${local.account_id}:*"
      },
      {
        Sid      = "DescribeNetwork"
        Effect   = "Allow"
        Action   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
        Resource = "*"
      },
      {
        Sid       = "NotFromFunctionCode"
        Effect    = "Deny"
        Action    = ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
        Resource  = "*"
        Condition = { ArnEquals = { "lambda:SourceFunctionArn" = [local.worker_arn, "${local.worker_arn}:*"] } }
      },
    ]
  })
}

resource "aws_lambda_function" "worker" {
  function_name = local.worker_name
  description   = "Scores batch jobs' rows from the data bucket with the models on EFS"
  role          = aws_iam_role.worker.arn
  package_type  = "Image"
  image_uri     = var.image_uri
  architectures = [var.architecture]
  memory_size   = var.worker_memory_size
  timeout       = var.worker_timeout

  image_config {
    command = ["lambdas.batch.handler.lambda_handler"]
  }

  environment {
    variables = merge(var.environment, { MODEL_DIR = local.model_dir, POWERTOOLS_SERVICE_NAME = "batch" })
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  file_system_config {
    arn              = var.efs_access_point_arn
    local_mount_path = local.model_dir
  }

  tags = merge({ Name = local.worker_name }, var.tags)

  depends_on = [aws_cloudwatch_log_group.worker, aws_iam_role_policy.worker, aws_iam_role_policy.worker_eni]
}

# --- the state machine: plan, a Distributed Map over the byte ranges, assemble ---

resource "aws_cloudwatch_log_group" "state_machine" {
  name              = "/aws/vendedlogs/states/${local.worker_name}"
  retention_in_days = var.log_retention_days

  tags = merge({ Name = "${local.worker_name}-executions" }, var.tags)
}

resource "aws_iam_role" "state_machine" {
  name_prefix = "${substr(local.worker_name, 0, 31)}-jobs-"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "states.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })

  tags = merge({ Name = "${local.worker_name}-jobs" }, var.tags)
}

# The worker, its own child executions (what a Distributed Map starts) and its execution logs: nothing else.
resource "aws_iam_role_policy" "state_machine" {
  name = "run-batch-jobs"
  role = aws_iam_role.state_machine.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "InvokeTheWorker"
        Effect   = "Allow"
        Action   = "lambda:InvokeFunction"
        Resource = [aws_lambda_function.worker.arn, "${aws_lambda_function.worker.arn}:*"]
      },
      {
        Sid      = "RunOwnChildExecutions"
        Effect   = "Allow"
        Action   = ["states:StartExecution"]
        Resource = local.machine_arn
      },
      {
        Sid      = "WatchOwnChildExecutions"
        Effect   = "Allow"
        Action   = ["states:DescribeExecution", "states:StopExecution"]
        Resource = "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${local.worker_name}/*"
      },
      {
        # Vended log delivery takes no resource-level permission: the documentation requires "*".
        Sid      = "DeliverExecutionLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"]
        Resource = "*"
      },
    ]
  })
}

resource "aws_sfn_state_machine" "this" {
  name     = local.worker_name
  type     = "STANDARD"
  role_arn = aws_iam_role.state_machine.arn
  definition = templatefile("${path.module}/state_machine.asl.json", {
    partition         = local.partition
    worker_arn        = aws_lambda_function.worker.arn
    ranges_per_worker = var.ranges_per_worker
    max_concurrency   = var.batch_max_concurrency
  })

  # Every state's events, with their inputs and outputs: plans, range numbers, counts and manifests; never rows.
  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    include_execution_data = true
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = false
  }

  tags = merge({ Name = local.worker_name }, var.tags)

  depends_on = [aws_iam_role_policy.state_machine]
}

# --- the trigger: an object under input/ starts a job ---

resource "aws_s3_bucket_notification" "data" {
  bucket      = var.data_bucket_name
  eventbridge = true
}

resource "aws_cloudwatch_event_rule" "input" {
  name        = "${local.worker_name}-input"
  description = "An object under input/ of the data bucket starts a batch job."
  event_pattern = jsonencode({
    source      = ["aws.s3"]
    detail-type = ["Object Created"]
    detail = {
      bucket = { name = [var.data_bucket_name] }
      object = { key = [{ prefix = "input/" }] }
    }
  })

  tags = merge({ Name = "${local.worker_name}-input" }, var.tags)
}

resource "aws_iam_role" "events" {
  name_prefix = "${substr(local.worker_name, 0, 29)}-start-"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })

  tags = merge({ Name = "${local.worker_name}-start" }, var.tags)
}

resource "aws_iam_role_policy" "events" {
  name = "start-batch-jobs"
  role = aws_iam_role.events.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Sid = "StartJobs", Effect = "Allow", Action = "states:StartExecution", Resource = aws_sfn_state_machine.this.arn }]
  })
}

resource "aws_cloudwatch_event_target" "input" {
  rule     = aws_cloudwatch_event_rule.input.name
  arn      = aws_sfn_state_machine.this.arn
  role_arn = aws_iam_role.events.arn
}

resource "aws_cloudwatch_metric_alarm" "failed_jobs" {
  alarm_name          = "${local.worker_name}-failed-jobs"
  alarm_description   = "A batch job failed: its manifest in the data bucket's output/ says why."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsFailed"
  dimensions          = { StateMachineArn = aws_sfn_state_machine.this.arn }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = merge({ Name = "${local.worker_name}-failed-jobs" }, var.tags)
}
