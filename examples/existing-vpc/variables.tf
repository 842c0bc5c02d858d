variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name prefix for every resource."
  type        = string
  default     = "sklearn-existing"
}

variable "vpc_id" {
  description = "ID of the existing VPC."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the existing VPC, one per availability zone."
  type        = list(string)
}

variable "route_table_ids" {
  description = "Route tables of those subnets; they get the S3 gateway endpoint."
  type        = list(string)
  default     = []
}

variable "create_s3_endpoint" {
  description = "Add an S3 gateway endpoint; false when the VPC already routes S3 through one."
  type        = bool
  default     = true
}

variable "image_uri" {
  description = "Prebuilt image for both functions; null builds docker/ with docker and pushes it."
  type        = string
  default     = null
}
