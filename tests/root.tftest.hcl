# The root module composes network -> storage -> compute; checked through its outputs with a mocked provider.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  image_uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/serverless-sklearn:test"
}

run "defaults_compose_a_new_vpc_and_an_http_api" {
  assert {
    condition     = output.inference_url == "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
    error_message = "inference_url must be the HTTP API stage URL without a trailing slash"
  }

  assert {
    condition     = length(output.private_subnet_ids) == 2 && output.function_url == null
    error_message = "two private subnets and no function URL by default"
  }

  assert {
    condition     = output.bucket_name == "test-models" && output.efs_access_point_arn == "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-12345678"
    error_message = "storage outputs must be passed through"
  }

  assert {
    condition     = output.loader_function_name == "serverless-sklearn-loader" && output.inference_function_name == "serverless-sklearn-inference"
    error_message = "functions must be named after name"
  }

  assert {
    condition     = output.image_uri == var.image_uri
    error_message = "the given image must be used"
  }

  assert {
    condition     = jsondecode(module.network.s3_endpoint_policy).Statement[0].Resource == [module.storage.bucket_arn, "${module.storage.bucket_arn}/*", module.storage.data_bucket_arn, "${module.storage.data_bucket_arn}/*"]
    error_message = "the S3 endpoint must admit this deployment's buckets alone"
  }

  assert {
    condition     = output.data_bucket_name == module.storage.data_bucket_name && output.capture_delivery_stream_name == "serverless-sklearn-capture" && output.dashboard_name == "serverless-sklearn"
    error_message = "a default deployment has a data bucket, delivers captured requests to it, and has a dashboard"
  }

  assert {
    condition     = jsondecode(module.network.s3_endpoint_policy).Statement[1].Resource == ["${module.storage.data_bucket_arn}/output/*"] && output.batch_state_machine_arn != null
    error_message = "batch scoring is on by default, and the S3 endpoint lets functions write under the data bucket's output/ alone"
  }

  assert {
    condition     = module.network.inference_security_group_id != module.network.loader_security_group_id
    error_message = "the inference function must have a security group of its own"
  }

  assert {
    condition     = jsondecode(output.inference_invoke_policy).Statement[0].Action == "execute-api:Invoke"
    error_message = "the root must say how to grant a caller"
  }
}

run "existing_vpc_subnets_reach_the_functions" {
  variables {
    create_vpc      = false
    vpc_id          = "vpc-0123456789abcdef0"
    subnet_ids      = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
    route_table_ids = ["rtb-0123456789abcdef0"]
  }

  assert {
    condition     = output.vpc_id == var.vpc_id && toset(output.private_subnet_ids) == toset(var.subnet_ids)
    error_message = "the given VPC and subnets must be used"
  }
}

run "name_must_suit_every_resource" {
  command = plan

  variables {
    name = "Not_Valid"
  }

  expect_failures = [var.name]
}
