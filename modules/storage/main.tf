data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  # The functions run as this POSIX user on EFS; the loader writes, the inference function reads.
  posix_id        = 1001
  efs_root_path   = "/export/lambda"
  efs_permissions = "750"
}
