resource "aws_efs_file_system" "this" {
  creation_token  = var.name
  encrypted       = true
  throughput_mode = var.efs_throughput_mode

  tags = merge({ Name = var.name }, var.tags)
}

resource "aws_security_group" "efs" {
  name_prefix = "${var.name}-efs-"
  description = "EFS of ${var.name}: NFS from the functions only"
  vpc_id      = var.vpc_id

  tags = merge({ Name = "${var.name}-efs" }, var.tags)

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "efs_from_lambda" {
  security_group_id            = aws_security_group.efs.id
  description                  = "NFS from the functions"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = var.lambda_security_group_id

  tags = merge({ Name = "${var.name}-efs-nfs" }, var.tags)
}

resource "aws_vpc_security_group_egress_rule" "lambda_to_efs" {
  security_group_id            = var.lambda_security_group_id
  description                  = "NFS to the model file system"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.efs.id

  tags = merge({ Name = "${var.name}-lambda-nfs" }, var.tags)
}

resource "aws_efs_mount_target" "this" {
  for_each = var.subnet_ids

  file_system_id  = aws_efs_file_system.this.id
  subnet_id       = each.value
  security_groups = [aws_security_group.efs.id]
}

resource "aws_efs_access_point" "this" {
  file_system_id = aws_efs_file_system.this.id

  posix_user {
    uid = local.posix_id
    gid = local.posix_id
  }

  root_directory {
    path = local.efs_root_path

    creation_info {
      owner_uid   = local.posix_id
      owner_gid   = local.posix_id
      permissions = local.efs_permissions
    }
  }

  tags = merge({ Name = var.name }, var.tags)
}

data "aws_iam_policy_document" "efs" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["*"]
    resources = [aws_efs_file_system.this.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  # Mounts are allowed only through the access point; which role may mount is decided by its IAM policy.
  statement {
    sid       = "AllowMountThroughAccessPoint"
    effect    = "Allow"
    actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    resources = [aws_efs_file_system.this.arn]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }

    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [aws_efs_access_point.this.arn]
    }

    condition {
      test     = "Bool"
      variable = "elasticfilesystem:AccessedViaMountTarget"
      values   = ["true"]
    }
  }
}

resource "aws_efs_file_system_policy" "this" {
  file_system_id = aws_efs_file_system.this.id
  policy         = data.aws_iam_policy_document.efs.json
}
