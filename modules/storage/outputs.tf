output "bucket_name" {
  description = "Name of the model bucket."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the model bucket."
  value       = aws_s3_bucket.this.arn
}

output "data_bucket_name" {
  description = "Name of the data bucket: input/ and output/ of batch jobs, capture/ of captured requests."
  value       = aws_s3_bucket.data.id
}

output "data_bucket_arn" {
  description = "ARN of the data bucket."
  value       = aws_s3_bucket.data.arn
}

output "data_publisher_arns" {
  description = "Who may put and delete objects under the data bucket's input/: the deploying identity's role and data_publisher_arns."
  value       = local.data_publishers
}

output "efs_file_system_id" {
  description = "ID of the model file system."
  value       = aws_efs_file_system.this.id
}

output "efs_file_system_arn" {
  description = "ARN of the model file system."
  value       = aws_efs_file_system.this.arn
}

output "efs_access_point_id" {
  description = "ID of the access point the functions mount."
  value       = aws_efs_access_point.this.id
}

output "efs_access_point_arn" {
  description = "ARN of the access point the functions mount; known only once every mount target exists."
  value       = aws_efs_access_point.this.arn

  # A function that mounts EFS fails to create until a mount target exists in its subnets.
  depends_on = [aws_efs_mount_target.this, aws_efs_file_system_policy.this]
}

output "efs_security_group_id" {
  description = "Security group of the EFS mount targets."
  value       = aws_security_group.efs.id
}

output "efs_mount_target_ids" {
  description = "EFS mount target IDs keyed like subnet_ids."
  value       = { for key, target in aws_efs_mount_target.this : key => target.id }
}

output "model_publisher_arns" {
  description = "Who may put and delete models: the deploying identity's role and model_publisher_arns."
  value       = local.model_publishers
}

output "audit_trail_arn" {
  description = "ARN of the CloudTrail trail of the model bucket's object events, or null when enable_bucket_audit_trail is off."
  value       = try(aws_cloudtrail.models[0].arn, null)
}

output "audit_bucket_name" {
  description = "Bucket holding the audit trail's log files, or null when enable_bucket_audit_trail is off."
  value       = try(aws_s3_bucket.audit[0].id, null)
}
