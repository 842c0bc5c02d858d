# Defaults live in the modules: a null here means "the module's default" (see modules/*/README.md).

variable "name" {
  description = "Name prefix for every resource; lowercase letters, digits and hyphens."
  type        = string
  default     = "serverless-sklearn"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2-32 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------- network

variable "create_vpc" {
  description = "Create a VPC with private subnets; false to use vpc_id and subnet_ids."
  type        = bool
  default     = true
}

variable "vpc_cidr" {
  description = "CIDR block of the created VPC."
  type        = string
  default     = null
}

variable "availability_zones" {
  description = "Availability zones of the created subnets; null picks az_count zones."
  type        = list(string)
  default     = null
}

variable "az_count" {
  description = "Number of availability zones of the created VPC."
  type        = number
  default     = null
}

variable "vpc_id" {
  description = "Existing VPC when create_vpc is false."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Existing private subnets when create_vpc is false."
  type        = list(string)
  default     = []
}

variable "route_table_ids" {
  description = "Route tables of the existing subnets that get the S3 gateway endpoint."
  type        = list(string)
  default     = []
}

variable "create_s3_endpoint" {
  description = "Create an S3 gateway endpoint for the loader."
  type        = bool
  default     = true
}

variable "s3_endpoint_other_bucket_arns" {
  description = "Buckets besides this deployment's that the S3 gateway endpoint admits (reads only): in an existing VPC, those other workloads of route_table_ids read through it."
  type        = list(string)
  default     = []
}

variable "https_egress_cidr_blocks" {
  description = "Extra HTTPS egress for the functions (e.g. behind an existing NAT gateway)."
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------- storage

variable "bucket_name" {
  description = "Name of the model bucket; null derives one from name."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let destroy delete a bucket that still holds models, and an ECR repository that holds images."
  type        = bool
  default     = false
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted model file is kept as a noncurrent S3 version."
  type        = number
  default     = null
}

variable "efs_throughput_mode" {
  description = "EFS throughput mode: elastic or bursting."
  type        = string
  default     = null
}

variable "data_bucket_name" {
  description = "Name of the data bucket (batch input/ and output/, captured requests under capture/); null derives one from name."
  type        = string
  default     = null
}

variable "data_publisher_arns" {
  description = "IAM roles and users (ARNs, wildcards allowed) that may put and delete objects under the data bucket's input/ beside the identity that deploys."
  type        = list(string)
  default     = []
}

variable "capture_retention_days" {
  description = "Days captured requests and answers are kept in the data bucket; null keeps them."
  type        = number
  default     = null
}

# ---------------------------------------------------------------- compute

variable "model_prefix" {
  description = "Key prefix under which models live in the bucket; empty for the whole bucket."
  type        = string
  default     = ""
}

variable "enable_bucket_audit_trail" {
  description = "Record the model bucket's object-level events (who put, deleted or read which model) in a CloudTrail trail; billed per event. null takes the storage module's default (off)."
  type        = bool
  default     = null
}

variable "model_publisher_arns" {
  description = "IAM roles and users (ARNs, wildcards allowed) that may put and delete models beside the identity that deploys; the bucket policy denies every other principal."
  type        = list(string)
  default     = []
}

variable "allowed_model_formats" {
  description = "Model formats accepted: any of joblib, pkl, skops; [\"skops\"] refuses pickles."
  type        = list(string)
  default     = null
}

variable "enable_onnx_fast_path" {
  description = "Convert each model to ONNX when it is published and serve the conversion when it answers alike; null takes the compute module's default (true)."
  type        = bool
  default     = null
}

variable "model_version_policy" {
  description = "serve or reject a model saved by another scikit-learn minor version than the image serves; null takes the compute module's default (serve)."
  type        = string
  default     = null
}

variable "skops_trusted_types" {
  description = "Types a .skops model may hold beyond skops' defaults, trusted by the operator (never by an upload); null takes the compute module's default (none)."
  type        = list(string)
  default     = null
}

variable "max_model_bytes" {
  description = "Largest model file the loader accepts, refused before download when larger; null takes the compute module's default (4 GiB)."
  type        = number
  default     = null
}

variable "onnx_max_model_bytes" {
  description = "Largest model file the loader converts to ONNX; null takes the function's default, 128 MiB (validated by the compute module)."
  type        = number
  default     = null
}

variable "image_uri" {
  description = "Image for both functions; null builds docker/ and pushes it to ECR."
  type        = string
  default     = null
}

variable "image_builder" {
  description = "Command that builds and pushes the image when image_uri is null."
  type        = string
  default     = null
}

variable "image_build_options" {
  description = "Extra options for the image build command; null uses the builder's own (--provenance=false for docker, none for podman and buildah)."
  type        = list(string)
  default     = null
}

variable "image_build_interpreter" {
  description = "Interpreter of the POSIX shell image build script; null uses /bin/sh (on Windows, e.g. [\"bash\", \"-c\"] from Git for Windows or WSL)."
  type        = list(string)
  default     = null
}

variable "architecture" {
  description = "Instruction set of the functions and image: x86_64 or arm64."
  type        = string
  default     = null
}

variable "inference_memory_size" {
  description = "Memory of the inference function in MB."
  type        = number
  default     = null
}

variable "inference_timeout" {
  description = "Timeout of the inference function in seconds."
  type        = number
  default     = null
}

variable "loader_memory_size" {
  description = "Memory of the loader function in MB."
  type        = number
  default     = null
}

variable "loader_timeout" {
  description = "Timeout of the loader function in seconds."
  type        = number
  default     = null
}

variable "loader_maximum_retry_attempts" {
  description = "Retries of a failed loader invocation before the failure queue."
  type        = number
  default     = null
}

variable "inference_reserved_concurrency" {
  description = "Concurrency reserved for the inference function; null leaves it unreserved."
  type        = number
  default     = null
}

variable "inference_provisioned_concurrency" {
  description = "Pre-initialised inference environments (billed while idle); 0 turns it off."
  type        = number
  default     = null
}

variable "model_cache_max_bytes" {
  description = "Bytes of models the inference function keeps in memory; null uses half of its memory."
  type        = number
  default     = null
}

variable "model_refresh_seconds" {
  description = "How often, at most, a cached model is checked against its file."
  type        = number
  default     = null
}

variable "log_level" {
  description = "Log level of both functions."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the logs."
  type        = number
  default     = null
}

variable "api_type" {
  description = "API in front of the inference function: http or rest."
  type        = string
  default     = null
}

variable "api_authorization_type" {
  description = "Authorization of the API: AWS_IAM (the compute module's default: SigV4-signed requests), JWT (HTTP API, with api_jwt) or NONE (open to anyone with the URL); a function URL needs AWS_IAM."
  type        = string
  default     = null
}

variable "api_jwt" {
  description = "Token issuer and audiences when api_authorization_type is JWT (HTTP API), e.g. a Cognito user pool's issuer URL and app client ID."
  type = object({
    issuer   = string
    audience = list(string)
  })
  default = null
}

variable "api_throttling" {
  description = "Request rate and burst the API admits."
  type = object({
    rate_limit  = optional(number)
    burst_limit = optional(number)
  })
  default = null
}

variable "cors" {
  description = "CORS of the HTTP API and function URL; empty allow_origins turns it off."
  type = object({
    allow_origins  = optional(list(string))
    allow_methods  = optional(list(string))
    allow_headers  = optional(list(string))
    expose_headers = optional(list(string))
    max_age        = optional(number)
  })
  default = null
}

variable "create_function_url" {
  description = "Also expose the inference function through a function URL."
  type        = bool
  default     = false
}

variable "inference_5xx_alarm_threshold" {
  description = "5xx responses in five minutes that raise the inference alarm."
  type        = number
  default     = null
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm fires or clears."
  type        = list(string)
  default     = []
}

variable "enable_request_capture" {
  description = "Deliver captured requests and answers (each model's serving.json says what share) to the data bucket through a log subscription and Firehose."
  type        = bool
  default     = true
}

variable "capture_buffer_seconds" {
  description = "Seconds Firehose buffers captured records before writing them; null takes the compute module's default (60)."
  type        = number
  default     = null
}

variable "create_dashboard" {
  description = "Create the deployment's CloudWatch dashboard (requests, errors, latency, shadow agreement per model and version)."
  type        = bool
  default     = true
}

variable "model_error_alarms" {
  description = "An alarm per model name on its share of server errors: { iris = { threshold_percent = 5 } }."
  type = map(object({
    threshold_percent  = optional(number, 5)
    minimum_requests   = optional(number, 10)
    evaluation_periods = optional(number, 1)
  }))
  default = {}
}

# ---------------------------------------------------------------- batch

variable "enable_batch_scoring" {
  description = "Score whole files put under input/ of the data bucket with Step Functions' Distributed Map (the batch module)."
  type        = bool
  default     = true
}

variable "batch_max_concurrency" {
  description = "Child executions of a batch job's Distributed Map running at once."
  type        = number
  default     = 100
}
