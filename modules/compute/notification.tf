resource "aws_lambda_permission" "s3_invoke_loader" {
  statement_id   = "AllowModelBucketNotifications"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.loader.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = var.bucket_arn
  source_account = local.account_id
}

# One filter per allowed format and per file of notifications.json: S3 matches a single suffix per configuration.
resource "aws_s3_bucket_notification" "this" {
  bucket = var.bucket_name

  dynamic "lambda_function" {
    for_each = local.created_and_removed

    content {
      id                  = "model${replace(lambda_function.value, ".", "-")}"
      lambda_function_arn = aws_lambda_function.loader.arn
      events              = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
      filter_prefix       = local.model_prefix == "" ? null : local.model_prefix
      filter_suffix       = lambda_function.value
    }
  }

  dynamic "lambda_function" {
    for_each = local.created_only

    content {
      id                  = replace(lambda_function.value, ".", "-")
      lambda_function_arn = aws_lambda_function.loader.arn
      events              = ["s3:ObjectCreated:*"]
      filter_prefix       = local.model_prefix == "" ? null : local.model_prefix
      filter_suffix       = lambda_function.value
    }
  }

  # S3 tests the destination when the configuration is saved: the permission must exist first.
  depends_on = [aws_lambda_permission.s3_invoke_loader]
}
