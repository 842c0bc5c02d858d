data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  # Commercial regions where Lambda cannot mount EFS, from the Lambda file-system documentation (2026): New Zealand,
  # Taipei, Malaysia, Mexico (Central), Thailand and Canada West (Calgary).
  regions_without_lambda_efs = ["ap-southeast-6", "ap-east-2", "ap-southeast-5", "mx-central-1", "ap-southeast-7", "ca-west-1"]

  loader_name    = "${var.name}-loader"
  inference_name = "${var.name}-inference"

  model_dir = "/mnt/ml"
  # One prefix for the notification filter, the loader's key parsing and its S3 permissions.
  model_prefix   = var.model_prefix == "" ? "" : "${trimsuffix(var.model_prefix, "/")}/"
  model_suffixes = [for format in var.allowed_model_formats : ".${format}"]
  # Which keys notify the loader (see notifications.json, which the local stack reads too): models and MLflow's
  # MLmodel on created and removed events; probe samples (iris.sample.json, iris/3/sample.npy) and MLflow input
  # examples on created events, so one uploaded after its model still signs it again, fast path on or off.
  notifications       = jsondecode(file("${path.module}/notifications.json"))
  created_and_removed = concat(local.model_suffixes, local.notifications.created_and_removed)
  created_only        = local.notifications.created_only

  common_environment = merge(
    {
      MODEL_DIR                    = local.model_dir
      MODEL_PREFIX                 = local.model_prefix
      MODEL_REFRESH_SECONDS        = tostring(var.model_refresh_seconds)
      ALLOWED_MODEL_FORMATS        = join(",", var.allowed_model_formats)
      ONNX_FAST_PATH               = tostring(var.enable_onnx_fast_path)
      MODEL_VERSION_POLICY         = var.model_version_policy
      POWERTOOLS_METRICS_NAMESPACE = "ServerlessSklearn"
      LOG_LEVEL                    = var.log_level
    },
    var.model_cache_max_bytes == null ? {} : { MODEL_CACHE_MAX_BYTES = tostring(var.model_cache_max_bytes) },
    var.onnx_max_model_bytes == null ? {} : { ONNX_MAX_MODEL_BYTES = tostring(var.onnx_max_model_bytes) },
    length(var.skops_trusted_types) == 0 ? {} : { SKOPS_TRUSTED_TYPES = join(",", var.skops_trusted_types) },
  )

  cors_enabled = length(var.cors.allow_origins) > 0
}
