# One dashboard for the deployment. The per-model figures are the inference function's EMF metrics (namespace
# ServerlessSklearn, dimensions service, model and version), found by search expressions, so every model and version
# that answers appears without being listed here.
locals {
  metrics_namespace = "ServerlessSklearn"
  by_version        = "{${local.metrics_namespace},model,service,version} service=\"inference\""
  by_service        = "{${local.metrics_namespace},service} service=\"inference\""
  api_dimensions    = local.create_http_api ? ["ApiId", try(aws_apigatewayv2_api.http[0].id, "")] : ["ApiName", try(aws_api_gateway_rest_api.this[0].name, ""), "Stage", try(aws_api_gateway_stage.rest[0].stage_name, "")]

  dashboard_widgets = [
    ["Requests per model and version", [["SEARCH('${local.by_version} MetricName=\"Requests\"', 'Sum', 300)"]], "Sum"],
    ["Server errors (5xx) per model and version", [["SEARCH('${local.by_version} MetricName=\"ServerErrors\"', 'Sum', 300)"]], "Sum"],
    ["Client errors (4xx) per model and version", [["SEARCH('${local.by_version} MetricName=\"ClientErrors\"', 'Sum', 300)"]], "Sum"],
    ["Latency p50 and p99 (ms) per model and version", [
      ["SEARCH('${local.by_version} MetricName=\"Latency\"', 'p50', 300)"],
      ["SEARCH('${local.by_version} MetricName=\"Latency\"', 'p99', 300)"],
    ], "p50"],
    ["Shadow agreement per model and shadow version", [
      ["SEARCH('${local.by_version} MetricName=\"ShadowAgreement\"', 'Sum', 300)"],
      ["SEARCH('${local.by_version} MetricName=\"ShadowDisagreement\"', 'Sum', 300)"],
      ["SEARCH('${local.by_version} MetricName=\"ShadowFailed\"', 'Sum', 300)"],
    ], "Sum"],
    ["Cold loads and cache evictions", [
      ["SEARCH('${local.by_service} MetricName=\"ModelLoaded\"', 'Sum', 300)"],
      ["SEARCH('${local.by_service} MetricName=\"ModelEvicted\"', 'Sum', 300)"],
      ["SEARCH('${local.by_service} MetricName=\"ModelTooLarge\"', 'Sum', 300)"],
    ], "Sum"],
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = concat(
      [for index, widget in local.dashboard_widgets : {
        type   = "metric"
        x      = (index % 2) * 12
        y      = floor(index / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = widget[0]
          region  = local.region
          stat    = widget[2]
          period  = 300
          view    = "timeSeries"
          metrics = [for query_index, query in widget[1] : [{ expression = query[0], id = "q${query_index}" }]]
        }
      }],
      [{
        type   = "metric"
        x      = 0
        y      = ceil(length(local.dashboard_widgets) / 2) * 6
        width  = 24
        height = 6
        properties = {
          title  = "API: requests, 4xx and 5xx"
          region = local.region
          stat   = "Sum"
          period = 300
          view   = "timeSeries"
          metrics = [
            concat(["AWS/ApiGateway", "Count"], local.api_dimensions),
            concat(["AWS/ApiGateway", local.create_http_api ? "4xx" : "4XXError"], local.api_dimensions),
            concat(["AWS/ApiGateway", local.create_http_api ? "5xx" : "5XXError"], local.api_dimensions),
          ]
        }
      }],
    )
  })
}

# Per model: the share of its requests answered with a server error, over five minutes.
resource "aws_cloudwatch_metric_alarm" "model_errors" {
  for_each = var.model_error_alarms

  alarm_name          = "${local.inference_name}-${each.key}-errors"
  alarm_description   = "Model ${each.key} answered ${each.value.threshold_percent}% or more of its requests with a server error (5xx) in five minutes."
  comparison_operator = "GreaterThanOrEqualToThreshold"
  evaluation_periods  = each.value.evaluation_periods
  threshold           = each.value.threshold_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  metric_query {
    id          = "error_rate"
    expression  = "IF(requests >= ${each.value.minimum_requests}, 100 * FILL(errors, 0) / requests, 0)"
    label       = "Server errors (% of requests)"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = local.metrics_namespace
      metric_name = "ServerErrors"
      dimensions  = { service = "inference", model = each.key }
      period      = 300
      stat        = "Sum"
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = local.metrics_namespace
      metric_name = "Requests"
      dimensions  = { service = "inference", model = each.key }
      period      = 300
      stat        = "Sum"
    }
  }

  tags = merge({ Name = "${local.inference_name}-${each.key}-errors" }, var.tags)
}
