variable "name" {
  description = "Name prefix for every resource the module creates."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "subnet_ids" {
  description = "Private subnets the functions run in."
  type        = list(string)
}

variable "inference_security_group_ids" {
  description = "Security groups of the inference function: NFS to EFS and nothing else (it reads models from EFS alone)."
  type        = list(string)
}

variable "loader_security_group_ids" {
  description = "Security groups of the loader: NFS to EFS and HTTPS to S3."
  type        = list(string)
}

variable "bucket_name" {
  description = "Model bucket whose notifications drive the loader."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of the model bucket."
  type        = string
}

variable "efs_file_system_arn" {
  description = "ARN of the model file system."
  type        = string
}

variable "efs_access_point_arn" {
  description = "ARN of the EFS access point both functions mount at /mnt/ml."
  type        = string
}

variable "model_prefix" {
  description = "Key prefix under which models live in the bucket, e.g. \"models/\"; empty for the whole bucket."
  type        = string
  default     = ""

  validation {
    condition     = !startswith(var.model_prefix, "/") && !strcontains(var.model_prefix, "..")
    error_message = "model_prefix must not start with / or contain .."
  }
}

variable "allowed_model_formats" {
  description = "Model file formats the loader accepts and the bucket notifies on: any of joblib, pkl, skops (skops alone refuses pickles)."
  type        = list(string)
  default     = ["joblib", "pkl", "skops"]
  nullable    = false

  validation {
    condition     = length(var.allowed_model_formats) > 0 && alltrue([for format in var.allowed_model_formats : contains(["joblib", "pkl", "skops"], format)])
    error_message = "allowed_model_formats must be a non-empty list of joblib, pkl and skops."
  }
}

variable "enable_onnx_fast_path" {
  description = "Convert each model to ONNX when it is published and serve the conversion with onnxruntime when it answers as the model does; false keeps every model on scikit-learn."
  type        = bool
  default     = true
  nullable    = false
}

variable "model_version_policy" {
  description = "What the loader does with a model saved by another scikit-learn minor version than the image serves: serve (the mismatch is shown in the model's metadata and the repository index, and counted) or reject (the version is refused, with that reason)."
  type        = string
  default     = "serve"
  nullable    = false

  validation {
    condition     = contains(["serve", "reject"], var.model_version_policy)
    error_message = "model_version_policy must be serve or reject."
  }
}

variable "skops_trusted_types" {
  description = "Types a .skops model may hold beyond skops' defaults (e.g. [\"numpy.dtype\"]), trusted by this deployment's operator; what an upload or an MLmodel lists never widens them. Each is a dotted Python path, and each lets a file build objects of that type."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for name in var.skops_trusted_types : can(regex("^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)+$", name))])
    error_message = "skops_trusted_types must list dotted Python paths such as numpy.dtype."
  }
}

variable "max_model_bytes" {
  description = "Largest model file the loader accepts; a larger upload is refused with a verdict before any of it is downloaded. The default, 4 GiB, is far above what a Lambda's memory can serve."
  type        = number
  default     = 4294967296
  nullable    = false

  validation {
    condition     = var.max_model_bytes > 0
    error_message = "max_model_bytes must be a positive number of bytes, e.g. 4294967296 (4 GiB)."
  }
}

variable "onnx_max_model_bytes" {
  description = "Largest model file the loader converts to ONNX; a conversion holds the model several times in the loader's memory. null uses the function's default, 128 MiB."
  type        = number
  default     = null

  validation {
    condition     = var.onnx_max_model_bytes == null || try(var.onnx_max_model_bytes > 0, false)
    error_message = "onnx_max_model_bytes must be a positive number of bytes."
  }
}

variable "image_uri" {
  description = "Image both functions run (the image module's output, or one pushed by CI)."
  type        = string
  nullable    = false
}

variable "architecture" {
  description = "Instruction set of the functions and the built image: x86_64 or arm64."
  type        = string
  default     = "x86_64"
  nullable    = false

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "inference_memory_size" {
  description = "Memory of the inference function in MB. The default is the most a new account's Lambda quota accepts (3,008 MB); up to 10,240 MB once the quota is raised, buying a larger model cache (half of it by default) and up to 6 vCPUs."
  type        = number
  default     = 3008
  nullable    = false

  validation {
    condition     = var.inference_memory_size >= 128 && var.inference_memory_size <= 10240
    error_message = "inference_memory_size must be between 128 and 10240 MB."
  }
}

variable "inference_timeout" {
  description = "Timeout of the inference function in seconds. API Gateway waits at most 29 s (REST) or 30 s (HTTP) for it, so with an API it must end first: at most 28 s (REST) or 29 s (HTTP); the integration waits one second more."
  type        = number
  default     = 28
  nullable    = false

  validation {
    condition     = var.inference_timeout >= 1 && var.inference_timeout <= 900
    error_message = "inference_timeout must be between 1 and 900 seconds."
  }
}

variable "loader_memory_size" {
  description = "Memory of the loader function in MB; it loads each model once to validate it."
  type        = number
  default     = 2048
  nullable    = false

  validation {
    condition     = var.loader_memory_size >= 128 && var.loader_memory_size <= 10240
    error_message = "loader_memory_size must be between 128 and 10240 MB."
  }
}

variable "loader_timeout" {
  description = "Timeout of the loader function in seconds: long enough to copy and validate the largest model."
  type        = number
  default     = 300
  nullable    = false

  validation {
    condition     = var.loader_timeout >= 1 && var.loader_timeout <= 900
    error_message = "loader_timeout must be between 1 and 900 seconds."
  }
}

variable "loader_maximum_retry_attempts" {
  description = "Retries of a failed loader invocation before its event goes to the failure queue."
  type        = number
  default     = 2
  nullable    = false

  validation {
    condition     = var.loader_maximum_retry_attempts >= 0 && var.loader_maximum_retry_attempts <= 2
    error_message = "loader_maximum_retry_attempts must be 0, 1 or 2."
  }
}

variable "inference_reserved_concurrency" {
  description = "Concurrency reserved for (and capping) the inference function; null leaves it unreserved."
  type        = number
  default     = null
}

variable "inference_provisioned_concurrency" {
  description = "Pre-initialised inference environments (billed while idle); 0 turns it off."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.inference_provisioned_concurrency >= 0
    error_message = "inference_provisioned_concurrency must be 0 or more."
  }
}

variable "model_cache_max_bytes" {
  description = "Bytes of models the inference function keeps in memory; null uses half of its memory."
  type        = number
  default     = null
}

variable "model_refresh_seconds" {
  description = "How often, at most, a cached model is checked against its file on EFS."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.model_refresh_seconds >= 0
    error_message = "model_refresh_seconds must be 0 or more."
  }
}

variable "log_level" {
  description = "Log level of both functions."
  type        = string
  default     = "INFO"
  nullable    = false

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the functions' and the API's logs."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention period CloudWatch Logs accepts, e.g. 7, 30 or 365."
  }
}

variable "api_type" {
  description = "API in front of the inference function: http (API Gateway HTTP API) or rest (REST API)."
  type        = string
  default     = "http"
  nullable    = false

  validation {
    condition     = contains(["http", "rest"], var.api_type)
    error_message = "api_type must be http or rest."
  }
}

variable "api_authorization_type" {
  description = "Authorization of the API: AWS_IAM (SigV4-signed requests of principals allowed execute-api:Invoke, see the output inference_invoke_policy), JWT (HTTP API only: bearer tokens of the OIDC issuer in api_jwt, e.g. a Cognito user pool) or NONE (anyone with the URL; the plan warns of the worst-case spend). The function URL takes AWS_IAM only."
  type        = string
  default     = "AWS_IAM"
  nullable    = false

  validation {
    condition     = contains(["NONE", "AWS_IAM", "JWT"], var.api_authorization_type)
    error_message = "api_authorization_type must be NONE, AWS_IAM or JWT."
  }
}

variable "api_jwt" {
  description = "The token issuer and accepted audiences when api_authorization_type is JWT, e.g. { issuer = \"https://cognito-idp.REGION.amazonaws.com/POOL_ID\", audience = [\"APP_CLIENT_ID\"] }."
  type = object({
    issuer   = string
    audience = list(string)
  })
  default = null

  validation {
    condition     = var.api_jwt == null || try(startswith(var.api_jwt.issuer, "https://") && length(var.api_jwt.audience) > 0, false)
    error_message = "api_jwt needs an https:// issuer and at least one audience."
  }
}

variable "api_throttling" {
  description = "Steady request rate per second and burst the API admits before answering 429."
  type = object({
    rate_limit  = optional(number, 100)
    burst_limit = optional(number, 200)
  })
  default  = {}
  nullable = false
}

variable "cors" {
  description = "CORS of the HTTP API and the function URL; an empty allow_origins turns CORS off. By default a page may send the route key and inference id headers and read which version answered (X-Model-Version)."
  type = object({
    allow_origins  = optional(list(string), [])
    allow_methods  = optional(list(string), ["GET", "POST"])
    allow_headers  = optional(list(string), ["content-type", "authorization", "x-amz-date", "x-amz-security-token", "x-route-key", "x-inference-id"])
    expose_headers = optional(list(string), ["x-model-version"])
    max_age        = optional(number, 300)
  })
  default  = {}
  nullable = false
}

variable "create_function_url" {
  description = "Also expose the inference function through a Lambda function URL."
  type        = bool
  default     = false
}

variable "inference_5xx_alarm_threshold" {
  description = "5xx responses of the API in five minutes that raise the inference alarm."
  type        = number
  default     = 1
  nullable    = false
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm fires or clears (e.g. an SNS topic)."
  type        = list(string)
  default     = []
}

variable "data_bucket_arn" {
  description = "ARN of the data bucket, where captured requests land under capture/ (needed with enable_request_capture)."
  type        = string
  default     = null
}

variable "enable_request_capture" {
  description = "Deliver the records the inference function captures (its log lines in SageMaker Data Capture format) to data_bucket_arn through a log subscription and Firehose. What share of which model is captured is each model's serving.json. The root turns it on."
  type        = bool
  default     = false
  nullable    = false
}

variable "capture_buffer_seconds" {
  description = "Seconds Firehose buffers captured records before it writes them (it also writes at 64 MB)."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.capture_buffer_seconds >= 0 && var.capture_buffer_seconds <= 900
    error_message = "capture_buffer_seconds must be from 0 to 900, as Firehose takes it."
  }
}

variable "create_dashboard" {
  description = "Create the deployment's CloudWatch dashboard: requests, errors, latency and shadow agreement per model and version, cold loads, cache evictions and the API's own figures."
  type        = bool
  default     = true
  nullable    = false
}

variable "model_error_alarms" {
  description = "An alarm per model name on the share of its requests answered with a server error over five minutes: at threshold_percent or more, once it had minimum_requests, for evaluation_periods periods."
  type = map(object({
    threshold_percent  = optional(number, 5)
    minimum_requests   = optional(number, 10)
    evaluation_periods = optional(number, 1)
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for name in keys(var.model_error_alarms) : can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", name))])
    error_message = "model_error_alarms keys must be model names: letters, digits, '_', '.' or '-', at most 64."
  }
}
