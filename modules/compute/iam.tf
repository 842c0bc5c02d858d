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

# What a function in a VPC needs, as the Lambda documentation lists it (network interfaces, DescribeSubnets, logs):
# the AWS managed execution role for VPC access.
resource "aws_iam_role_policy_attachment" "loader_eni" {
  role       = aws_iam_role.loader.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_iam_role_policy_attachment" "inference_eni" {
  role       = aws_iam_role.inference.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
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
