# Wiring of the storage module against a mocked AWS provider (nothing is created).

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name                        = "test"
  vpc_id                      = "vpc-0123456789abcdef0"
  subnet_ids                  = { "us-east-1a" = "subnet-0aaaaaaaaaaaaaaaa", "us-east-1b" = "subnet-0bbbbbbbbbbbbbbbb" }
  function_security_group_ids = { loader = "sg-0123456789abcdef0", inference = "sg-0fedcba9876543210" }
}

run "the_longest_name_gives_a_bucket_prefix_the_provider_accepts" {
  module {
    source = "./modules/storage"
  }

  variables {
    name = "a-name-of-thirty-two-characters0"
  }

  assert {
    condition     = length(aws_s3_bucket.this.bucket_prefix) <= 37 && startswith(aws_s3_bucket.this.bucket_prefix, "a-name-of-thirty-two-characte")
    error_message = "bucket_prefix must stay within the provider's 37 characters for any allowed name"
  }
}

run "efs_defaults_to_elastic_throughput" {
  module {
    source = "./modules/storage"
  }

  assert {
    condition     = aws_efs_file_system.this.throughput_mode == "elastic"
    error_message = "EFS must default to elastic throughput"
  }
}

run "bursting_throughput_is_an_option" {
  module {
    source = "./modules/storage"
  }

  variables {
    efs_throughput_mode = "bursting"
  }

  assert {
    condition     = aws_efs_file_system.this.throughput_mode == "bursting"
    error_message = "efs_throughput_mode must reach the file system"
  }
}

run "functions_may_send_nfs_to_efs_only" {
  module {
    source = "./modules/storage"
  }

  assert {
    condition = alltrue([
      for function, group in var.function_security_group_ids :
      aws_vpc_security_group_egress_rule.functions_to_efs[function].security_group_id == group &&
      aws_vpc_security_group_egress_rule.functions_to_efs[function].referenced_security_group_id == aws_security_group.efs.id &&
      aws_vpc_security_group_egress_rule.functions_to_efs[function].from_port == 2049 &&
      aws_vpc_security_group_egress_rule.functions_to_efs[function].to_port == 2049
    ])
    error_message = "each function's group must reach EFS on 2049"
  }
}

run "efs_mounts_only_through_the_access_point" {
  module {
    source = "./modules/storage"
  }

  assert {
    condition = anytrue([
      for statement in jsondecode(aws_efs_file_system_policy.this.policy).Statement :
      statement.Effect == "Allow" && try(statement.Condition.StringEquals["elasticfilesystem:AccessPointArn"], null) == aws_efs_access_point.this.arn
    ])
    error_message = "the file system policy must allow mounts through the access point"
  }

  assert {
    condition     = length([for statement in jsondecode(aws_efs_file_system_policy.this.policy).Statement : statement if statement.Effect == "Allow"]) == 1
    error_message = "the access point statement must be the only Allow"
  }
}

run "rejects_unknown_throughput_mode" {
  command = plan

  module {
    source = "./modules/storage"
  }

  variables {
    efs_throughput_mode                = "provisioned"
    noncurrent_version_expiration_days = 0
  }

  expect_failures = [var.efs_throughput_mode, var.noncurrent_version_expiration_days]
}

run "efs_admits_nfs_only_from_the_functions" {
  module {
    source = "./modules/storage"
  }

  assert {
    condition = alltrue([
      for function, group in var.function_security_group_ids :
      aws_vpc_security_group_ingress_rule.efs_from_functions[function].referenced_security_group_id == group &&
      aws_vpc_security_group_ingress_rule.efs_from_functions[function].from_port == 2049 &&
      aws_vpc_security_group_ingress_rule.efs_from_functions[function].to_port == 2049 &&
      aws_vpc_security_group_ingress_rule.efs_from_functions[function].cidr_ipv4 == null
    ]) && length(aws_vpc_security_group_ingress_rule.efs_from_functions) == 2
    error_message = "EFS must admit port 2049 from the functions' groups only"
  }

  assert {
    condition     = length(aws_security_group.efs.ingress) == 0
    error_message = "the EFS group must have no inline rules besides the NFS one"
  }

  assert {
    condition     = length(aws_efs_mount_target.this) == 2 && alltrue([for target in aws_efs_mount_target.this : target.security_groups == toset([aws_security_group.efs.id])])
    error_message = "one mount target per private subnet, in the EFS group"
  }
}

run "access_point_runs_as_1001_under_export_lambda" {
  module {
    source = "./modules/storage"
  }

  assert {
    condition = (
      aws_efs_access_point.this.posix_user[0].uid == 1001 &&
      aws_efs_access_point.this.posix_user[0].gid == 1001 &&
      aws_efs_access_point.this.root_directory[0].path == "/export/lambda" &&
      aws_efs_access_point.this.root_directory[0].creation_info[0].permissions == "750" &&
      aws_efs_access_point.this.root_directory[0].creation_info[0].owner_uid == 1001
    )
    error_message = "the access point must be uid/gid 1001, perms 750, at /export/lambda"
  }
}

run "only_the_deployer_and_named_publishers_may_write_models" {
  module {
    source = "./modules/storage"
  }

  variables {
    model_prefix         = "team/models"
    model_publisher_arns = ["arn:aws:iam::123456789012:role/ml-publisher"]
  }

  assert {
    condition = anytrue([
      for statement in jsondecode(aws_s3_bucket_policy.this.policy).Statement :
      statement.Effect == "Deny" && statement.Principal == "*" &&
      try(toset(statement.Action), null) == toset(["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"]) &&
      statement.Resource == "${aws_s3_bucket.this.arn}/team/models/*" &&
      try(toset(statement.Condition.ArnNotLike["aws:PrincipalArn"]), null) == toset(["arn:aws:iam::123456789012:role/deployer", "arn:aws:iam::123456789012:role/ml-publisher"])
    ])
    error_message = "the bucket policy must deny putting and deleting models to all but the deployer's role and model_publisher_arns"
  }

  assert {
    condition     = toset(output.model_publisher_arns) == toset(["arn:aws:iam::123456789012:role/deployer", "arn:aws:iam::123456789012:role/ml-publisher"])
    error_message = "an output must say who may publish"
  }
}

run "a_publisher_must_be_an_iam_arn" {
  command = plan

  module {
    source = "./modules/storage"
  }

  variables {
    model_publisher_arns = ["ml-publisher"]
  }

  expect_failures = [var.model_publisher_arns]
}

run "storage_is_private_encrypted_and_tls_only" {
  module {
    source = "./modules/storage"
  }

  assert {
    condition = (
      aws_s3_bucket_public_access_block.this.block_public_acls &&
      aws_s3_bucket_public_access_block.this.block_public_policy &&
      aws_s3_bucket_public_access_block.this.ignore_public_acls &&
      aws_s3_bucket_public_access_block.this.restrict_public_buckets
    )
    error_message = "every public access block setting must be on"
  }

  assert {
    condition = anytrue([
      for statement in jsondecode(aws_s3_bucket_policy.this.policy).Statement :
      statement.Effect == "Deny" && try(statement.Condition.Bool["aws:SecureTransport"], null) == "false" && statement.Principal == "*"
    ])
    error_message = "the bucket policy must deny requests without TLS"
  }

  assert {
    condition = anytrue([
      for statement in jsondecode(aws_efs_file_system_policy.this.policy).Statement :
      statement.Effect == "Deny" && try(statement.Condition.Bool["aws:SecureTransport"], null) == "false"
    ])
    error_message = "the file system policy must deny access without TLS"
  }

  assert {
    condition     = aws_efs_file_system.this.encrypted
    error_message = "EFS must be encrypted"
  }

  assert {
    condition     = aws_s3_bucket_versioning.this.versioning_configuration[0].status == "Enabled"
    error_message = "the model bucket must be versioned"
  }

  assert {
    condition     = aws_s3_bucket_ownership_controls.this.rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "ACLs must be disabled on the model bucket"
  }
}

run "no_audit_trail_unless_asked" {
  module {
    source = "./modules/storage"
  }

  assert {
    condition     = length(aws_cloudtrail.models) == 0 && length(aws_s3_bucket.audit) == 0 && output.audit_trail_arn == null
    error_message = "the audit trail is billed per event: off by default"
  }
}

run "the_audit_trail_records_who_touched_which_model" {
  module {
    source = "./modules/storage"
  }

  variables {
    enable_bucket_audit_trail = true
  }

  assert {
    condition = (
      aws_cloudtrail.models[0].enable_log_file_validation &&
      aws_cloudtrail.models[0].s3_bucket_name == aws_s3_bucket.audit[0].id &&
      flatten([for selector in aws_cloudtrail.models[0].advanced_event_selector[0].field_selector : selector.starts_with if selector.field == "resources.ARN"]) == ["${aws_s3_bucket.this.arn}/"]
    )
    error_message = "the trail must record the model bucket's object events, with validated log files, in its own bucket"
  }

  assert {
    condition = anytrue([
      for statement in jsondecode(aws_s3_bucket_policy.audit[0].policy).Statement :
      statement.Effect == "Deny" && statement.Condition == { Bool = { "aws:SecureTransport" = "false" } }
    ]) && aws_s3_bucket_public_access_block.audit[0].restrict_public_buckets
    error_message = "the audit bucket must be private and TLS-only, as the model bucket is"
  }
}

run "the_data_bucket_has_the_model_buckets_protections_and_its_own_publishers" {
  module {
    source = "./modules/storage"
  }

  variables {
    data_publisher_arns    = ["arn:aws:iam::123456789012:role/data-team"]
    capture_retention_days = 90
  }

  assert {
    condition = (
      aws_s3_bucket_public_access_block.data.block_public_acls && aws_s3_bucket_public_access_block.data.block_public_policy &&
      aws_s3_bucket_public_access_block.data.ignore_public_acls && aws_s3_bucket_public_access_block.data.restrict_public_buckets &&
      aws_s3_bucket_versioning.data.versioning_configuration[0].status == "Enabled" &&
      aws_s3_bucket_ownership_controls.data.rule[0].object_ownership == "BucketOwnerEnforced" &&
      one(aws_s3_bucket_server_side_encryption_configuration.data.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms"
    )
    error_message = "the data bucket must be private, versioned, without ACLs and encrypted, as the model bucket is"
  }

  assert {
    condition = anytrue([
      for statement in jsondecode(aws_s3_bucket_policy.data.policy).Statement :
      statement.Effect == "Deny" && statement.Resource == "${aws_s3_bucket.data.arn}/input/*" &&
      try(toset(statement.Condition.ArnNotLike["aws:PrincipalArn"]), null) == toset(["arn:aws:iam::123456789012:role/deployer", "arn:aws:iam::123456789012:role/data-team"])
    ])
    error_message = "only the deployer and data_publisher_arns may write under input/ (which starts jobs)"
  }

  assert {
    condition = anytrue([
      for statement in jsondecode(aws_s3_bucket_policy.data.policy).Statement :
      statement.Effect == "Deny" && try(statement.Condition.Bool["aws:SecureTransport"], null) == "false"
    ])
    error_message = "the data bucket must refuse requests without TLS"
  }

  assert {
    condition     = anytrue([for rule in aws_s3_bucket_lifecycle_configuration.data.rule : rule.status == "Enabled" && try(rule.filter[0].prefix, "") == "capture/" && try(rule.expiration[0].days, 0) == 90])
    error_message = "captured records must expire after capture_retention_days"
  }
}
