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

variable "function_security_group_ids" {
  description = "Security groups of the functions, keyed by a name known at plan time (loader, inference): the only sources admitted to NFS on the file system, each given NFS egress to it."
  type        = map(string)
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

variable "model_prefix" {
  description = "Key prefix under which models live in the bucket (as the compute module takes it); only named publishers may write or delete under it."
  type        = string
  default     = ""
  nullable    = false
}

variable "model_publisher_arns" {
  description = "IAM roles and users (by ARN, wildcards allowed) that may put and delete models, beside the identity that deploys; every other principal is denied by the bucket policy, whatever its own IAM policy grants."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.model_publisher_arns : can(regex("^arn:aws[a-z-]*:(iam|sts)::[0-9*]{12}:", arn))])
    error_message = "model_publisher_arns must hold IAM role or user ARNs, e.g. arn:aws:iam::123456789012:role/ml-publisher."
  }
}

variable "enable_bucket_audit_trail" {
  description = "Record every object-level event of the model bucket (who put, deleted or read which model) in a CloudTrail trail, into a bucket of its own; data events are billed per event."
  type        = bool
  default     = false
  nullable    = false
}

variable "audit_log_retention_days" {
  description = "Days the audit trail's log files are kept."
  type        = number
  default     = 365
  nullable    = false

  validation {
    condition     = var.audit_log_retention_days >= 1
    error_message = "audit_log_retention_days must be 1 or more."
  }
}

variable "data_bucket_name" {
  description = "Name of the data bucket (batch input and output, captured requests); null derives a unique name from name."
  type        = string
  default     = null
}

variable "data_publisher_arns" {
  description = "IAM roles and users (by ARN, wildcards allowed) that may put and delete objects under the data bucket's input/ (which starts batch jobs), beside the identity that deploys."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.data_publisher_arns : can(regex("^arn:aws[a-z-]*:(iam|sts)::[0-9*]{12}:", arn))])
    error_message = "data_publisher_arns must hold IAM role or user ARNs, e.g. arn:aws:iam::123456789012:role/data-team."
  }
}

variable "capture_retention_days" {
  description = "Days captured requests and answers (capture/ in the data bucket) are kept; null keeps them."
  type        = number
  default     = null

  validation {
    condition     = var.capture_retention_days == null || try(var.capture_retention_days >= 1, false)
    error_message = "capture_retention_days must be at least 1, or null to keep captured records."
  }
}
