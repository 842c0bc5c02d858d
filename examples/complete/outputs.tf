output "inference_url" {
  description = "Base URL of the inference API."
  value       = module.serverless_sklearn.inference_url
}

output "bucket_name" {
  description = "Bucket to upload models to."
  value       = module.serverless_sklearn.bucket_name
}

output "loader_function_name" {
  description = "Name of the loader function (its logs show each model published or rejected)."
  value       = module.serverless_sklearn.loader_function_name
}

output "inference_function_name" {
  description = "Name of the inference function."
  value       = module.serverless_sklearn.inference_function_name
}
