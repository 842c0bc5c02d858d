data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

# The role (not the session) the deploying identity acts as: what the bucket policy names as a publisher.
data "aws_iam_session_context" "deployer" {
  arn = data.aws_caller_identity.current.arn
}

locals {
  # The functions run as this POSIX user on EFS; the loader writes, the inference function reads.
  posix_id        = 1001
  efs_root_path   = "/export/lambda"
  efs_permissions = "750"

  model_prefix     = var.model_prefix == "" ? "" : "${trimsuffix(var.model_prefix, "/")}/"
  model_publishers = distinct(concat([data.aws_iam_session_context.deployer.issuer_arn], var.model_publisher_arns))
  data_publishers  = distinct(concat([data.aws_iam_session_context.deployer.issuer_arn], var.data_publisher_arns))
}
