# Wiring of the batch module against a mocked AWS provider (nothing is created).

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name                 = "test"
  image_uri            = "123456789012.dkr.ecr.us-east-1.amazonaws.com/serverless-sklearn:test"
  subnet_ids           = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
  security_group_ids   = ["sg-0123456789abcdef0"]
  efs_file_system_arn  = "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-12345678"
  efs_access_point_arn = "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-12345678"
  data_bucket_name     = "test-data"
  data_bucket_arn      = "arn:aws:s3:::test-data"
  environment          = { ONNX_FAST_PATH = "true" }
}

override_resource {
  target = aws_lambda_function.worker
  values = {
    arn = "arn:aws:lambda:us-east-1:123456789012:function:test-batch"
  }
}

override_resource {
  target = aws_sfn_state_machine.this
  values = {
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:test-batch"
  }
}

run "an_object_under_input_starts_a_job_on_the_distributed_map" {
  module {
    source = "./modules/batch"
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.input.event_pattern).detail.object.key[0].prefix == "input/" && aws_s3_bucket_notification.data.eventbridge
    error_message = "objects created under input/ of the data bucket, and only they, must start jobs"
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.Score.ItemProcessor.ProcessorConfig.Mode == "DISTRIBUTED" && jsondecode(aws_sfn_state_machine.this.definition).States.Score.MaxConcurrency == 100
    error_message = "the ranges must be scored by a Distributed Map at batch_max_concurrency"
  }

  assert {
    condition     = aws_lambda_function.worker.image_config[0].command[0] == "lambdas.batch.handler.lambda_handler" && aws_lambda_function.worker.file_system_config[0].local_mount_path == "/mnt/ml" && aws_lambda_function.worker.environment[0].variables.ONNX_FAST_PATH == "true"
    error_message = "the worker runs the image's batch command with the models' EFS and settings"
  }

  assert {
    condition     = aws_sfn_state_machine.this.type == "STANDARD" && aws_sfn_state_machine.this.logging_configuration[0].level == "ALL"
    error_message = "a STANDARD state machine with execution logs"
  }
}

run "each_role_reaches_only_what_it_uses" {
  module {
    source = "./modules/batch"
  }

  assert {
    condition     = toset(flatten([for statement in jsondecode(aws_iam_role_policy.worker.policy).Statement : statement.Resource if startswith(statement.Sid, "ReadJob") || startswith(statement.Sid, "WriteJob")])) == toset(["arn:aws:s3:::test-data/input/*", "arn:aws:s3:::test-data/output/*"])
    error_message = "the worker reads input/ and writes output/ of the data bucket, nothing else in S3"
  }

  assert {
    condition     = [for statement in jsondecode(aws_iam_role_policy.state_machine.policy).Statement : statement.Resource if statement.Sid == "RunOwnChildExecutions"] == ["arn:aws:states:us-east-1:123456789012:stateMachine:test-batch"]
    error_message = "the state machine may start its own child executions and no other state machine"
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.events.policy).Statement[0].Resource == aws_sfn_state_machine.this.arn
    error_message = "the rule's role may start the batch state machine alone"
  }
}

run "concurrency_stays_within_distributed_maps_limit" {
  command = plan

  module {
    source = "./modules/batch"
  }

  variables {
    batch_max_concurrency = 20000
  }

  expect_failures = [var.batch_max_concurrency]
}
