# Optional (enable_bucket_audit_trail): a CloudTrail trail of the model bucket's object-level events (who put,
# deleted or read which model, and when) into a bucket of its own. Data events are billed per event ($0.10 per
# 100,000), so it is off by default; the bucket policy already limits who may publish.

locals {
  audit = var.enable_bucket_audit_trail ? 1 : 0
}

resource "aws_s3_bucket" "audit" {
  count = local.audit

  bucket_prefix = "${trimsuffix(substr(var.name, 0, 30), "-")}-audit-"
  force_destroy = var.force_destroy

  tags = merge({ Name = "${var.name}-audit" }, var.tags)
}

resource "aws_s3_bucket_ownership_controls" "audit" {
  count = local.audit

  bucket = aws_s3_bucket.audit[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "audit" {
  count = local.audit

  bucket                  = aws_s3_bucket.audit[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "audit" {
  count = local.audit

  bucket = aws_s3_bucket.audit[0].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "audit" {
  count = local.audit

  bucket = aws_s3_bucket.audit[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "audit" {
  count = local.audit

  bucket = aws_s3_bucket.audit[0].id

  rule {
    id     = "expire-audit-logs"
    status = "Enabled"

    filter {
      prefix = ""
    }

    expiration {
      days = var.audit_log_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.audit]
}

locals {
  trail_name = "${var.name}-models"
  trail_arn  = "arn:${data.aws_partition.current.partition}:cloudtrail:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:trail/${local.trail_name}"
}

# CloudTrail may write this trail's logs, and nothing else may write at all; TLS only.
resource "aws_s3_bucket_policy" "audit" {
  count = local.audit

  bucket = aws_s3_bucket.audit[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.audit[0].arn, "${aws_s3_bucket.audit[0].arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        Sid       = "CloudTrailChecksTheBucket"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = "s3:GetBucketAcl"
        Resource  = aws_s3_bucket.audit[0].arn
        Condition = { StringEquals = { "aws:SourceArn" = local.trail_arn } }
      },
      {
        Sid       = "CloudTrailWritesThisTrail"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = "s3:PutObject"
        Resource  = "${aws_s3_bucket.audit[0].arn}/AWSLogs/${data.aws_caller_identity.current.account_id}/*"
        Condition = { StringEquals = { "aws:SourceArn" = local.trail_arn, "s3:x-amz-acl" = "bucket-owner-full-control" } }
      },
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.audit]
}

resource "aws_cloudtrail" "models" {
  count = local.audit

  name                          = local.trail_name
  s3_bucket_name                = aws_s3_bucket.audit[0].id
  enable_log_file_validation    = true
  include_global_service_events = false
  is_multi_region_trail         = false

  # Object-level events of the model bucket only: puts, deletes and reads of models, with the caller.
  advanced_event_selector {
    name = "Model bucket objects"

    field_selector {
      field  = "eventCategory"
      equals = ["Data"]
    }

    field_selector {
      field  = "resources.type"
      equals = ["AWS::S3::Object"]
    }

    field_selector {
      field       = "resources.ARN"
      starts_with = ["${aws_s3_bucket.this.arn}/"]
    }
  }

  tags = merge({ Name = local.trail_name }, var.tags)

  depends_on = [aws_s3_bucket_policy.audit]
}
