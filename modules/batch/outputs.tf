output "state_machine_arn" {
  description = "ARN of the batch job state machine."
  value       = aws_sfn_state_machine.this.arn
}

output "worker_function_name" {
  description = "Name of the batch worker function."
  value       = aws_lambda_function.worker.function_name
}

output "failed_jobs_alarm_arn" {
  description = "ARN of the alarm on failed batch jobs."
  value       = aws_cloudwatch_metric_alarm.failed_jobs.arn
}
