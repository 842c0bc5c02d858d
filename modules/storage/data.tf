# The data bucket: what models are asked and answer, kept apart from the models themselves. input/ and output/ hold
# batch jobs, capture/ the captured requests and answers. Same protections as the model bucket; its own publishers.
resource "aws_s3_bucket" "data" {
  bucket        = var.data_bucket_name
  bucket_prefix = var.data_bucket_name == null ? "${trimsuffix(substr(var.name, 0, 31), "-")}-data-" : null
  force_destroy = var.force_destroy

  tags = merge({ Name = "${var.name}-data" }, var.tags)
}

resource "aws_s3_bucket_ownership_controls" "data" {
  bucket = aws_s3_bucket.data.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "data" {
  bucket = aws_s3_bucket.data.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "data" {
  bucket = aws_s3_bucket.data.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  bucket = aws_s3_bucket.data.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "data" {
  bucket = aws_s3_bucket.data.id

  rule {
    id     = "expire-replaced-objects"
    status = "Enabled"

    filter {
      prefix = ""
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  rule {
    id     = "expire-captured-requests"
    status = var.capture_retention_days == null ? "Disabled" : "Enabled"

    filter {
      prefix = "capture/"
    }

    expiration {
      days = coalesce(var.capture_retention_days, 365)
    }
  }

  depends_on = [aws_s3_bucket_versioning.data]
}

resource "aws_s3_bucket_policy" "data" {
  bucket = aws_s3_bucket.data.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.data.arn, "${aws_s3_bucket.data.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        # An object under input/ starts a job that runs a model on it: only the deployer and the named publishers.
        Sid       = "OnlyNamedPublishersWriteInput"
        Effect    = "Deny"
        Principal = "*"
        Action    = ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"]
        Resource  = "${aws_s3_bucket.data.arn}/input/*"
        Condition = { ArnNotLike = { "aws:PrincipalArn" = local.data_publishers } }
      },
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.data]
}
