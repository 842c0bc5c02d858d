locals {
  assume_lambda_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })

  # The loader reads model objects under the prefix, writes the model file system and reports failed events.
  loader_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.loader.arn}:*"
      },
      {
        Sid      = "ReadModelObjects"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:GetObjectVersion"]
        Resource = "${var.bucket_arn}/${local.model_prefix}*"
      },
      {
        # Lets a missing object answer 404 rather than 403, so the loader can tell a deleted model from a denied one.
        Sid       = "ListModelPrefix"
        Effect    = "Allow"
        Action    = "s3:ListBucket"
        Resource  = var.bucket_arn
        Condition = { StringLike = { "s3:prefix" = "${local.model_prefix}*" } }
      },
      {
        Sid       = "WriteModelFileSystem"
        Effect    = "Allow"
        Action    = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
        Resource  = var.efs_file_system_arn
        Condition = { StringEquals = { "elasticfilesystem:AccessPointArn" = var.efs_access_point_arn } }
      },
      {
        Sid      = "ReportFailedEvents"
        Effect   = "Allow"
        Action   = "sqs:SendMessage"
        Resource = aws_sqs_queue.loader_failures.arn
      },
    ]
  }

  # The inference function only reads the model file system: no S3, no write.
  inference_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.inference.arn}:*"
      },
      {
        Sid       = "ReadModelFileSystem"
        Effect    = "Allow"
        Action    = "elasticfilesystem:ClientMount"
        Resource  = var.efs_file_system_arn
        Condition = { StringEquals = { "elasticfilesystem:AccessPointArn" = var.efs_access_point_arn } }
      },
    ]
  }
}

resource "aws_iam_role" "loader" {
  name_prefix        = "${substr(local.loader_name, 0, 37)}-"
  assume_role_policy = local.assume_lambda_policy

  tags = merge({ Name = local.loader_name }, var.tags)
}

resource "aws_iam_role" "inference" {
  name_prefix        = "${substr(local.inference_name, 0, 37)}-"
  assume_role_policy = local.assume_lambda_policy

  tags = merge({ Name = local.inference_name }, var.tags)
}

# What Lambda needs to attach a function to the VPC (the network-interface actions of the Lambda documentation),
# written out rather than the managed AWSLambdaVPCAccessExecutionRole, whose logs:* on every resource a function
# does not need. The Deny on lambda:SourceFunctionArn leaves them to Lambda's own calls: the same actions made
# with the credentials function code holds carry the function's ARN in that key, and are refused.
locals {
  eni_actions = [
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
  ]

  function_arns = {
    loader    = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.loader_name}"
    inference = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.inference_name}"
  }

  eni_policies = {
    for function, arn in local.function_arns : function => {
      Version = "2012-10-17"
      Statement = [
        {
          Sid      = "ManageNetworkInterfacesInThisAccount"
          Effect   = "Allow"
          Action   = ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
          Resource = "arn:${local.partition}:ec2:${local.region}:${local.account_id}:*"
        },
        {
          # Describe actions take no resource: the documentation requires "*".
          Sid      = "DescribeNetwork"
          Effect   = "Allow"
          Action   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
          Resource = "*"
        },
        {
          Sid       = "NotFromFunctionCode"
          Effect    = "Deny"
          Action    = local.eni_actions
          Resource  = "*"
          Condition = { ArnEquals = { "lambda:SourceFunctionArn" = [arn, "${arn}:*"] } }
        },
      ]
    }
  }
}

resource "aws_iam_role_policy" "loader_eni" {
  name   = "network-interfaces"
  role   = aws_iam_role.loader.id
  policy = jsonencode(local.eni_policies.loader)
}

resource "aws_iam_role_policy" "inference_eni" {
  name   = "network-interfaces"
  role   = aws_iam_role.inference.id
  policy = jsonencode(local.eni_policies.inference)
}

resource "aws_iam_role_policy" "loader" {
  name   = "loader"
  role   = aws_iam_role.loader.id
  policy = jsonencode(local.loader_policy)
}

resource "aws_iam_role_policy" "inference" {
  name   = "inference"
  role   = aws_iam_role.inference.id
  policy = jsonencode(local.inference_policy)
}
