output "inference_url" {
  description = "Base URL of the inference API, without a trailing slash."
  value       = local.inference_url
}

output "function_url" {
  description = "Function URL of the inference function, or null when not created."
  value       = try(aws_lambda_function_url.inference[0].function_url, null)
}

output "api_execution_arn" {
  description = "Execution ARN of the API; execute-api:Invoke on \"<this>/*\" lets a principal call every route."
  value       = local.api_execution_arn
}

output "inference_invoke_policy" {
  description = "An IAM policy document (JSON) that lets a principal call the API (and the function URL when created): attach it to the callers of an AWS_IAM deployment."
  value       = jsonencode(local.invoke_policy)
}

output "api_id" {
  description = "ID of the HTTP or REST API."
  value       = coalesce(try(aws_apigatewayv2_api.http[0].id, null), try(aws_api_gateway_rest_api.this[0].id, null))
}

output "loader_function_name" {
  description = "Name of the loader function."
  value       = aws_lambda_function.loader.function_name
}

output "loader_function_arn" {
  description = "ARN of the loader function."
  value       = aws_lambda_function.loader.arn
}

output "inference_function_name" {
  description = "Name of the inference function."
  value       = aws_lambda_function.inference.function_name
}

output "inference_function_arn" {
  description = "ARN of the inference function."
  value       = aws_lambda_function.inference.arn
}

output "loader_role_arn" {
  description = "ARN of the loader's execution role."
  value       = aws_iam_role.loader.arn
}

output "inference_role_arn" {
  description = "ARN of the inference function's execution role."
  value       = aws_iam_role.inference.arn
}

output "image_uri" {
  description = "Image both functions run."
  value       = var.image_uri
}

output "loader_failure_queue_url" {
  description = "URL of the queue holding events the loader failed on."
  value       = aws_sqs_queue.loader_failures.url
}

output "loader_failure_queue_arn" {
  description = "ARN of the queue holding events the loader failed on."
  value       = aws_sqs_queue.loader_failures.arn
}

output "capture_delivery_stream_name" {
  description = "Name of the Firehose stream that writes captured requests to the data bucket, or null when capture is off."
  value       = try(aws_kinesis_firehose_delivery_stream.capture[0].name, null)
}

output "dashboard_name" {
  description = "Name of the deployment's CloudWatch dashboard, or null when create_dashboard is off."
  value       = try(aws_cloudwatch_dashboard.this[0].dashboard_name, null)
}

output "function_environment" {
  description = "The model settings both functions run with (MODEL_DIR, MODEL_PREFIX, ONNX_FAST_PATH, ...), for other functions serving the same models."
  value       = local.common_environment
}
