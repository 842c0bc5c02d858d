variable "name" {
  description = "Name prefix for every resource the module creates."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "VPC of the EFS mount targets."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets that get an EFS mount target, keyed by a name known at plan time (availability zone or subnet ID)."
  type        = map(string)
}

variable "lambda_security_group_id" {
  description = "Security group of the functions: the only source admitted to NFS on the file system."
  type        = string
}

variable "bucket_name" {
  description = "Name of the model bucket; null derives a unique name from name."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let destroy delete a bucket that still holds models (all versions)."
  type        = bool
  default     = false
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted model file is kept as a noncurrent S3 version before it expires."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "efs_throughput_mode" {
  description = "EFS throughput mode: elastic (pay per use, no burst credits to run out) or bursting."
  type        = string
  default     = "elastic"
  nullable    = false

  validation {
    condition     = contains(["elastic", "bursting"], var.efs_throughput_mode)
    error_message = "efs_throughput_mode must be elastic or bursting."
  }
}
