output "vpc_id" {
  description = "ID of the VPC the functions and EFS live in."
  value       = local.vpc_id
}

output "private_subnet_ids" {
  description = "IDs of the private subnets, one per availability zone."
  value       = values(local.private_subnets)
}

output "private_subnet_ids_by_key" {
  description = "Private subnet IDs keyed by availability zone (created) or by ID (given); keys are known at plan time."
  value       = local.private_subnets
}

output "route_table_ids" {
  description = "Route tables that carry the S3 gateway endpoint."
  value       = local.route_table_ids
}

output "s3_endpoint_policy" {
  description = "Policy of the S3 gateway endpoint (JSON), or null when it is open or not created."
  value       = try(aws_vpc_endpoint.s3[0].policy, null)
}

output "s3_endpoint_id" {
  description = "ID of the S3 gateway endpoint, or null when not created."
  value       = try(aws_vpc_endpoint.s3[0].id, null)
}

output "loader_security_group_id" {
  description = "Security group of the loader: NFS to EFS (added by the storage module) and HTTPS to S3."
  value       = aws_security_group.loader.id
}

output "batch_security_group_id" {
  description = "Security group of the batch worker: NFS to EFS (added by the storage module) and HTTPS to S3."
  value       = aws_security_group.batch.id
}

output "inference_security_group_id" {
  description = "Security group of the inference function: NFS to EFS (added by the storage module) and nothing else."
  value       = aws_security_group.inference.id
}
