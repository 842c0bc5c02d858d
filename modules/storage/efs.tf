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

moved {
  from = aws_vpc_security_group_ingress_rule.efs_from_lambda
  to   = aws_vpc_security_group_ingress_rule.efs_from_functions["loader"]
}

moved {
  from = aws_vpc_security_group_egress_rule.lambda_to_efs
  to   = aws_vpc_security_group_egress_rule.functions_to_efs["loader"]
}

resource "aws_vpc_security_group_ingress_rule" "efs_from_functions" {
  for_each = var.function_security_group_ids

  security_group_id            = aws_security_group.efs.id
  description                  = "NFS from the ${each.key} function"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = each.value

  tags = merge({ Name = "${var.name}-efs-nfs-${each.key}" }, var.tags)
}

resource "aws_vpc_security_group_egress_rule" "functions_to_efs" {
  for_each = var.function_security_group_ids

  security_group_id            = each.value
  description                  = "NFS to the model file system"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.efs.id

  tags = merge({ Name = "${var.name}-${each.key}-nfs" }, var.tags)
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

resource "aws_efs_file_system_policy" "this" {
  file_system_id = aws_efs_file_system.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = "*"
        Resource  = aws_efs_file_system.this.arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        # Mounts only through the access point; which role may mount is decided by its own IAM policy.
        Sid       = "AllowMountThroughAccessPoint"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
        Resource  = aws_efs_file_system.this.arn
        Condition = {
          StringEquals = { "elasticfilesystem:AccessPointArn" = aws_efs_access_point.this.arn }
          Bool         = { "elasticfilesystem:AccessedViaMountTarget" = "true" }
        }
      },
    ]
  })
}
