resource "aws_cloudwatch_metric_alarm" "loader_failures" {
  alarm_name          = "${local.loader_name}-failures"
  alarm_description   = "Model events the loader failed on after its retries; they wait in ${aws_sqs_queue.loader_failures.name}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.loader_failures.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = merge({ Name = "${local.loader_name}-failures" }, var.tags)
}

resource "aws_cloudwatch_metric_alarm" "inference_5xx" {
  alarm_name          = "${local.inference_name}-5xx"
  alarm_description   = "The inference API answered with server errors."
  namespace           = "AWS/ApiGateway"
  metric_name         = local.create_http_api ? "5xx" : "5XXError"
  dimensions          = local.create_http_api ? { ApiId = aws_apigatewayv2_api.http[0].id } : { ApiName = aws_api_gateway_rest_api.this[0].name, Stage = aws_api_gateway_stage.rest[0].stage_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.inference_5xx_alarm_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = merge({ Name = "${local.inference_name}-5xx" }, var.tags)
}
