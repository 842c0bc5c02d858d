provider "aws" {
  region = var.region

  default_tags {
    tags = { Project = var.name }
  }
}

# Functions and EFS mount targets go into subnets that already exist; the S3 gateway endpoint is added to their
# route tables unless the VPC already has one (then set create_s3_endpoint = false).
module "serverless_sklearn" {
  source = "../.."

  name               = var.name
  create_vpc         = false
  vpc_id             = var.vpc_id
  subnet_ids         = var.subnet_ids
  route_table_ids    = var.route_table_ids
  create_s3_endpoint = var.create_s3_endpoint
  image_uri          = var.image_uri
}
