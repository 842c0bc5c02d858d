output "inference_url" {
  description = "Base URL of the inference API: POST $URL/v2/models/NAME/infer."
  value       = module.compute.inference_url
}

output "inference_invoke_policy" {
  description = "IAM policy document (JSON) granting execute-api:Invoke on the API (and the function URL when created): attach it to whoever may call."
  value       = module.compute.inference_invoke_policy
}

output "function_url" {
  description = "Function URL of the inference function, or null when not created."
  value       = module.compute.function_url
}

output "bucket_name" {
  description = "Bucket to upload models to."
  value       = module.storage.bucket_name
}

output "data_bucket_name" {
  description = "Bucket for data: batch jobs' input/ and output/, captured requests under capture/MODEL/VERSION/."
  value       = module.storage.data_bucket_name
}

output "data_publisher_arns" {
  description = "Who may put and delete objects under the data bucket's input/: the deploying identity's role and data_publisher_arns."
  value       = module.storage.data_publisher_arns
}

output "capture_delivery_stream_name" {
  description = "Firehose stream delivering captured requests to the data bucket, or null when capture is off."
  value       = module.compute.capture_delivery_stream_name
}

output "dashboard_name" {
  description = "The deployment's CloudWatch dashboard, or null when create_dashboard is off."
  value       = module.compute.dashboard_name
}

output "model_prefix" {
  description = "Key prefix under which models are picked up."
  value       = var.model_prefix
}

output "efs_file_system_id" {
  description = "ID of the model file system."
  value       = module.storage.efs_file_system_id
}

output "efs_access_point_arn" {
  description = "ARN of the access point both functions mount."
  value       = module.storage.efs_access_point_arn
}

output "loader_function_name" {
  description = "Name of the loader function."
  value       = module.compute.loader_function_name
}

output "inference_function_name" {
  description = "Name of the inference function."
  value       = module.compute.inference_function_name
}

output "ecr_repository_url" {
  description = "URL of the ECR repository for the image."
  value       = module.image.ecr_repository_url
}

output "image_uri" {
  description = "Image both functions run."
  value       = module.image.image_uri
}

output "loader_failure_queue_url" {
  description = "Queue holding events the loader failed on after its retries."
  value       = module.compute.loader_failure_queue_url
}

output "vpc_id" {
  description = "VPC of the functions and EFS."
  value       = module.network.vpc_id
}

output "private_subnet_ids" {
  description = "Private subnets of the functions and EFS mount targets."
  value       = module.network.private_subnet_ids
}

output "model_publisher_arns" {
  description = "Who may put and delete models in the bucket (the bucket policy denies everyone else): the deploying identity's role and model_publisher_arns."
  value       = module.storage.model_publisher_arns
}

output "audit_trail_arn" {
  description = "CloudTrail trail of the model bucket's object events, or null when enable_bucket_audit_trail is off."
  value       = module.storage.audit_trail_arn
}

output "batch_state_machine_arn" {
  description = "The batch job state machine, or null when enable_batch_scoring is off."
  value       = try(module.batch[0].state_machine_arn, null)
}
