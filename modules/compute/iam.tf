data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "loader" {
  name_prefix        = "${substr(local.loader_name, 0, 37)}-"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json

  tags = merge({ Name = local.loader_name }, var.tags)
}

resource "aws_iam_role" "inference" {
  name_prefix        = "${substr(local.inference_name, 0, 37)}-"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json

  tags = merge({ Name = local.inference_name }, var.tags)
}

# The network interfaces a function in a VPC needs; the AWS managed policy tracks what Lambda requires.
resource "aws_iam_role_policy_attachment" "loader_eni" {
  role       = aws_iam_role.loader.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaENIManagementAccess"
}

resource "aws_iam_role_policy_attachment" "inference_eni" {
  role       = aws_iam_role.inference.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaENIManagementAccess"
}

# The loader reads model objects under the prefix, writes the model file system and reports failed events.
data "aws_iam_policy_document" "loader" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.loader.arn}:*"]
  }

  statement {
    sid       = "ReadModelObjects"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${var.bucket_arn}/${local.model_prefix}*"]
  }

  # Lets a missing object answer 404 rather than 403, so the loader can tell a deleted model from a denied one.
  statement {
    sid       = "ListModelPrefix"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.model_prefix}*"]
    }
  }

  statement {
    sid       = "WriteModelFileSystem"
    actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    resources = [var.efs_file_system_arn]

    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [var.efs_access_point_arn]
    }
  }

  statement {
    sid       = "ReportFailedEvents"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.loader_failures.arn]
  }
}

# The inference function only reads the model file system: no S3, no write.
data "aws_iam_policy_document" "inference" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.inference.arn}:*"]
  }

  statement {
    sid       = "ReadModelFileSystem"
    actions   = ["elasticfilesystem:ClientMount"]
    resources = [var.efs_file_system_arn]

    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [var.efs_access_point_arn]
    }
  }
}

resource "aws_iam_role_policy" "loader" {
  name   = "loader"
  role   = aws_iam_role.loader.id
  policy = data.aws_iam_policy_document.loader.json
}

resource "aws_iam_role_policy" "inference" {
  name   = "inference"
  role   = aws_iam_role.inference.id
  policy = data.aws_iam_policy_document.inference.json
}
