# Captured requests and answers: the inference function writes each record to its log stream; a subscription filter
# sends those lines (and no others) to Firehose, which partitions them by model, version and hour into the data
# bucket. The function opens no connection for it, so no NAT gateway or interface endpoint is needed.
locals {
  create_capture = var.enable_request_capture
  # Empty while unset, so that the delivery stream's precondition, not an interpolation error, says what is missing.
  capture_bucket_arn = var.data_bucket_arn == null ? "" : var.data_bucket_arn
  capture_name       = "${var.name}-capture"
  # Records are SageMaker Data Capture lines; their input side always has mode INPUT.
  capture_filter_pattern = "{ $.captureData.endpointInput.mode = \"INPUT\" }"
  # The hour comes from the record's own inference time (yyyy-mm-ddThh:mm:ssZ), so a record lands in the hour it
  # was answered in, wherever Firehose's buffering puts it.
  capture_partition_query = "{model: .model, version: .version, year: .eventMetadata.inferenceTime[0:4], month: .eventMetadata.inferenceTime[5:7], day: .eventMetadata.inferenceTime[8:10], hour: .eventMetadata.inferenceTime[11:13]}"
  capture_prefix          = "capture/!{partitionKeyFromQuery:model}/!{partitionKeyFromQuery:version}/!{partitionKeyFromQuery:year}/!{partitionKeyFromQuery:month}/!{partitionKeyFromQuery:day}/!{partitionKeyFromQuery:hour}/"
}

resource "aws_cloudwatch_log_group" "capture_delivery" {
  count = local.create_capture ? 1 : 0

  name              = "/aws/kinesisfirehose/${local.capture_name}"
  retention_in_days = var.log_retention_days

  tags = merge({ Name = local.capture_name }, var.tags)
}

resource "aws_cloudwatch_log_stream" "capture_delivery" {
  count = local.create_capture ? 1 : 0

  name           = "DestinationDelivery"
  log_group_name = aws_cloudwatch_log_group.capture_delivery[0].name
}

resource "aws_iam_role" "capture_delivery" {
  count = local.create_capture ? 1 : 0

  name = "${local.capture_name}-delivery"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "firehose.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "sts:ExternalId" = local.account_id } }
    }]
  })

  tags = merge({ Name = "${local.capture_name}-delivery" }, var.tags)
}

# Firehose writes captured records under capture/ (and records it cannot partition under capture-errors/), nothing else.
resource "aws_iam_role_policy" "capture_delivery" {
  count = local.create_capture ? 1 : 0

  name = "write-captured-records"
  role = aws_iam_role.capture_delivery[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "WriteCapturedRecords"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:AbortMultipartUpload"]
        Resource = ["${local.capture_bucket_arn}/capture/*", "${local.capture_bucket_arn}/capture-errors/*"]
      },
      {
        Sid      = "FindTheBucket"
        Effect   = "Allow"
        Action   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
        Resource = local.capture_bucket_arn
      },
      {
        Sid      = "LogDeliveryErrors"
        Effect   = "Allow"
        Action   = "logs:PutLogEvents"
        Resource = "${aws_cloudwatch_log_group.capture_delivery[0].arn}:*"
      },
    ]
  })
}

resource "aws_kinesis_firehose_delivery_stream" "capture" {
  count = local.create_capture ? 1 : 0

  name        = local.capture_name
  destination = "extended_s3"

  # Records waiting in the stream are encrypted at rest; the objects it writes take the data bucket's encryption.
  server_side_encryption {
    enabled  = true
    key_type = "AWS_OWNED_CMK"
  }

  extended_s3_configuration {
    role_arn            = aws_iam_role.capture_delivery[0].arn
    bucket_arn          = local.capture_bucket_arn
    prefix              = local.capture_prefix
    error_output_prefix = "capture-errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
    # Dynamic partitioning buffers at least 64 MB; the interval bounds how long a record waits.
    buffering_size     = 64
    buffering_interval = var.capture_buffer_seconds
    compression_format = "UNCOMPRESSED"
    file_extension     = ".jsonl"

    dynamic_partitioning_configuration {
      enabled = true
    }

    processing_configuration {
      enabled = true

      # Subscription data arrives gzipped, many log events to a record: unzip, keep each event's message alone.
      processors {
        type = "Decompression"
        parameters {
          parameter_name  = "CompressionFormat"
          parameter_value = "GZIP"
        }
      }

      processors {
        type = "CloudWatchLogProcessing"
        parameters {
          parameter_name  = "DataMessageExtraction"
          parameter_value = "true"
        }
      }

      processors {
        type = "MetadataExtraction"
        parameters {
          parameter_name  = "JsonParsingEngine"
          parameter_value = "JQ-1.6"
        }
        parameters {
          parameter_name  = "MetadataExtractionQuery"
          parameter_value = local.capture_partition_query
        }
      }

      processors {
        type = "AppendDelimiterToRecord"
      }
    }

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.capture_delivery[0].name
      log_stream_name = aws_cloudwatch_log_stream.capture_delivery[0].name
    }
  }

  tags = merge({ Name = local.capture_name }, var.tags)

  lifecycle {
    precondition {
      condition     = var.data_bucket_arn != null
      error_message = "enable_request_capture needs data_bucket_arn: the bucket captured records are delivered to (the storage module's data_bucket_arn)."
    }
  }
}

resource "aws_iam_role" "capture_subscription" {
  count = local.create_capture ? 1 : 0

  name = "${local.capture_name}-subscription"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringLike = { "aws:SourceArn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:*" }
      }
    }]
  })

  tags = merge({ Name = "${local.capture_name}-subscription" }, var.tags)
}

resource "aws_iam_role_policy" "capture_subscription" {
  count = local.create_capture ? 1 : 0

  name = "put-captured-records"
  role = aws_iam_role.capture_subscription[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "PutCapturedRecords"
      Effect   = "Allow"
      Action   = ["firehose:PutRecord", "firehose:PutRecordBatch"]
      Resource = aws_kinesis_firehose_delivery_stream.capture[0].arn
    }]
  })
}

resource "aws_cloudwatch_log_subscription_filter" "capture" {
  count = local.create_capture ? 1 : 0

  name            = local.capture_name
  log_group_name  = aws_cloudwatch_log_group.inference.name
  filter_pattern  = local.capture_filter_pattern
  destination_arn = aws_kinesis_firehose_delivery_stream.capture[0].arn
  role_arn        = aws_iam_role.capture_subscription[0].arn

  depends_on = [aws_iam_role_policy.capture_subscription]
}
