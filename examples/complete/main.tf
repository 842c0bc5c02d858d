provider "aws" {
  region = var.region

  default_tags {
    tags = { Project = var.name }
  }
}

# A new VPC with private subnets in two zones, no NAT gateway, and the image built from this repository.
module "serverless_sklearn" {
  source = "../.."

  name                  = var.name
  image_uri             = var.image_uri
  allowed_model_formats = var.allowed_model_formats
  force_destroy         = var.force_destroy
  alarm_actions         = var.alarm_actions
}
