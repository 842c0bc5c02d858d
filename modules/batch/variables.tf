variable "name" {
  description = "Name prefix for every resource the module creates."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "image_uri" {
  description = "The functions' container image; the worker runs its batch command."
  type        = string
}

variable "architecture" {
  description = "Instruction set of the image: x86_64 or arm64."
  type        = string
  default     = "x86_64"
  nullable    = false
}

variable "subnet_ids" {
  description = "Private subnets of the worker (the functions' subnets, with EFS mount targets)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the worker: NFS to EFS and HTTPS to S3 (the network module's batch group)."
  type        = list(string)
}

variable "efs_file_system_arn" {
  description = "ARN of the model file system."
  type        = string
}

variable "efs_access_point_arn" {
  description = "ARN of the access point the worker mounts read-only at /mnt/ml."
  type        = string
}

variable "data_bucket_name" {
  description = "Name of the data bucket: jobs start from input/, answers go to output/."
  type        = string
}

variable "data_bucket_arn" {
  description = "ARN of the data bucket."
  type        = string
}

variable "environment" {
  description = "Model settings the worker shares with the inference function (MODEL_DIR, ONNX_FAST_PATH, ...)."
  type        = map(string)
  default     = {}
}

variable "worker_memory_size" {
  description = "Memory of the worker function in MB; a range of about 4 MB of rows and the model must fit."
  type        = number
  default     = 2048
  nullable    = false
}

variable "worker_timeout" {
  description = "Seconds a worker call may run: one batch of byte ranges, or the assembly of the answers."
  type        = number
  default     = 900
  nullable    = false
}

variable "batch_max_concurrency" {
  description = "Child executions of the Distributed Map running at once, each scoring ranges_per_worker ranges."
  type        = number
  default     = 100
  nullable    = false

  validation {
    condition     = var.batch_max_concurrency >= 1 && var.batch_max_concurrency <= 10000
    error_message = "batch_max_concurrency must be from 1 to 10000, Distributed Map's limit."
  }
}

variable "ranges_per_worker" {
  description = "Byte ranges (about 4 MB of rows each) one worker call scores."
  type        = number
  default     = 4
  nullable    = false
}

variable "log_retention_days" {
  description = "Days the worker's and the state machine's logs are kept."
  type        = number
  default     = 30
  nullable    = false
}

variable "alarm_actions" {
  description = "ARNs notified when the failed-jobs alarm fires or clears."
  type        = list(string)
  default     = []
}
