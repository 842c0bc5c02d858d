output "inference_url" {
  description = "Base URL of the inference API (requests must be SigV4-signed)."
  value       = module.serverless_sklearn.inference_url
}

output "bucket_name" {
  description = "Bucket to upload models to."
  value       = module.serverless_sklearn.bucket_name
}
