module "network" {
  source = "./modules/network"

  name                     = var.name
  tags                     = var.tags
  create_vpc               = var.create_vpc
  vpc_cidr                 = var.vpc_cidr
  availability_zones       = var.availability_zones
  az_count                 = var.az_count
  vpc_id                   = var.vpc_id
  subnet_ids               = var.subnet_ids
  route_table_ids          = var.route_table_ids
  create_s3_endpoint       = var.create_s3_endpoint
  https_egress_cidr_blocks = var.https_egress_cidr_blocks
  # The endpoint admits this deployment's bucket (and those the user names), so nothing else is reachable through it.
  s3_endpoint_bucket_arns = concat([module.storage.bucket_arn, module.storage.data_bucket_arn], var.s3_endpoint_other_bucket_arns)
  # Batch workers write their answers under output/ of the data bucket, and nowhere else.
  s3_endpoint_write_arns = var.enable_batch_scoring ? ["${module.storage.data_bucket_arn}/output/*"] : []
}

module "storage" {
  source = "./modules/storage"

  name       = var.name
  tags       = var.tags
  vpc_id     = module.network.vpc_id
  subnet_ids = module.network.private_subnet_ids_by_key
  function_security_group_ids = {
    loader    = module.network.loader_security_group_id
    inference = module.network.inference_security_group_id
    batch     = module.network.batch_security_group_id
  }
  bucket_name                        = var.bucket_name
  force_destroy                      = var.force_destroy
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  efs_throughput_mode                = var.efs_throughput_mode
  model_prefix                       = var.model_prefix
  model_publisher_arns               = var.model_publisher_arns
  enable_bucket_audit_trail          = var.enable_bucket_audit_trail
  data_bucket_name                   = var.data_bucket_name
  data_publisher_arns                = var.data_publisher_arns
  capture_retention_days             = var.capture_retention_days
}

module "image" {
  source = "./modules/image"

  name                = var.name
  tags                = var.tags
  image_uri           = var.image_uri
  image_builder       = var.image_builder
  image_build_options = var.image_build_options
  build_interpreter   = var.image_build_interpreter
  source_dir          = path.module
  architecture        = var.architecture
  ecr_force_delete    = var.force_destroy
}

module "compute" {
  source = "./modules/compute"

  name                              = var.name
  tags                              = var.tags
  subnet_ids                        = module.network.private_subnet_ids
  loader_security_group_ids         = [module.network.loader_security_group_id]
  inference_security_group_ids      = [module.network.inference_security_group_id]
  bucket_name                       = module.storage.bucket_name
  bucket_arn                        = module.storage.bucket_arn
  efs_file_system_arn               = module.storage.efs_file_system_arn
  efs_access_point_arn              = module.storage.efs_access_point_arn
  model_prefix                      = var.model_prefix
  allowed_model_formats             = var.allowed_model_formats
  enable_onnx_fast_path             = var.enable_onnx_fast_path
  onnx_max_model_bytes              = var.onnx_max_model_bytes
  model_version_policy              = var.model_version_policy
  skops_trusted_types               = var.skops_trusted_types
  max_model_bytes                   = var.max_model_bytes
  image_uri                         = module.image.image_uri
  architecture                      = var.architecture
  inference_memory_size             = var.inference_memory_size
  inference_timeout                 = var.inference_timeout
  loader_memory_size                = var.loader_memory_size
  loader_timeout                    = var.loader_timeout
  loader_maximum_retry_attempts     = var.loader_maximum_retry_attempts
  inference_reserved_concurrency    = var.inference_reserved_concurrency
  inference_provisioned_concurrency = var.inference_provisioned_concurrency
  model_cache_max_bytes             = var.model_cache_max_bytes
  model_refresh_seconds             = var.model_refresh_seconds
  log_level                         = var.log_level
  log_retention_days                = var.log_retention_days
  api_type                          = var.api_type
  api_authorization_type            = var.api_authorization_type
  api_jwt                           = var.api_jwt
  api_throttling                    = var.api_throttling
  cors                              = var.cors
  create_function_url               = var.create_function_url
  inference_5xx_alarm_threshold     = var.inference_5xx_alarm_threshold
  alarm_actions                     = var.alarm_actions
  data_bucket_arn                   = module.storage.data_bucket_arn
  enable_request_capture            = var.enable_request_capture
  capture_buffer_seconds            = var.capture_buffer_seconds
  create_dashboard                  = var.create_dashboard
  model_error_alarms                = var.model_error_alarms
}

module "batch" {
  source = "./modules/batch"
  count  = var.enable_batch_scoring ? 1 : 0

  name                  = var.name
  tags                  = var.tags
  image_uri             = module.image.image_uri
  architecture          = var.architecture
  subnet_ids            = module.network.private_subnet_ids
  security_group_ids    = [module.network.batch_security_group_id]
  efs_file_system_arn   = module.storage.efs_file_system_arn
  efs_access_point_arn  = module.storage.efs_access_point_arn
  data_bucket_name      = module.storage.data_bucket_name
  data_bucket_arn       = module.storage.data_bucket_arn
  environment           = module.compute.function_environment
  batch_max_concurrency = var.batch_max_concurrency
  log_retention_days    = var.log_retention_days
  alarm_actions         = var.alarm_actions
}

# The image build moved from the compute module into its own: state follows, nothing is rebuilt or replaced.
moved {
  from = module.compute.aws_ecr_repository.this
  to   = module.image.aws_ecr_repository.this[0]
}

moved {
  from = module.compute.aws_ecr_lifecycle_policy.this
  to   = module.image.aws_ecr_lifecycle_policy.this[0]
}

moved {
  from = module.compute.terraform_data.image
  to   = module.image.terraform_data.image
}
