output "image_uri" {
  description = "Image to run: the one built and pushed here (known once it is pushed), or the given image_uri."
  value       = local.image_uri
  depends_on  = [terraform_data.image]
}

output "ecr_repository_url" {
  description = "URL of the ECR repository the image is pushed to; null when image_uri is given."
  value       = try(aws_ecr_repository.this[0].repository_url, null)
}

output "image_tag" {
  description = "Content-hash tag of the built image; null when image_uri is given."
  value       = local.build_image ? local.image_tag : null
}
