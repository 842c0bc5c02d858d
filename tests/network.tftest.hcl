# Wiring of the network module against a mocked AWS provider (nothing is created).

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name = "test"
}

run "private_subnets_without_nat_reach_s3_through_a_gateway_endpoint" {
  module {
    source = "./modules/network"
  }

  assert {
    condition     = length(aws_subnet.private) == 2 && alltrue([for subnet in aws_subnet.private : !subnet.map_public_ip_on_launch])
    error_message = "two private subnets are expected by default"
  }

  assert {
    condition     = toset(keys(aws_subnet.private)) == toset(["us-east-1a", "us-east-1b"])
    error_message = "subnets must be keyed by availability zone"
  }

  assert {
    condition     = length(aws_route_table.private[0].route) == 0
    error_message = "the private route table must have no NAT or internet route"
  }

  assert {
    condition     = aws_vpc_endpoint.s3[0].vpc_endpoint_type == "Gateway" && aws_vpc_endpoint.s3[0].route_table_ids == toset([aws_route_table.private[0].id])
    error_message = "S3 must be reached through a gateway endpoint on the private route table"
  }

  assert {
    condition     = aws_vpc_security_group_egress_rule.loader_s3[0].prefix_list_id == aws_vpc_endpoint.s3[0].prefix_list_id && aws_vpc_security_group_egress_rule.loader_s3[0].from_port == 443
    error_message = "the loader may send HTTPS to S3 only"
  }

  assert {
    condition     = length(aws_security_group.inference.ingress) == 0 && length(aws_security_group.inference.egress) == 0 && aws_security_group.inference.id != aws_security_group.loader.id
    error_message = "the inference function's own group admits nothing and sends nothing but the NFS rule the storage module adds"
  }

  assert {
    condition     = length(aws_security_group.loader.ingress) == 0 && length(aws_vpc_security_group_egress_rule.loader_https) == 0
    error_message = "the functions' group admits nothing and has no open egress by default"
  }

  assert {
    condition     = length(output.private_subnet_ids) == 2 && output.vpc_id == aws_vpc.this[0].id
    error_message = "outputs must describe the created VPC"
  }

  assert {
    condition     = aws_security_group.loader.timeouts.delete == "60m" && alltrue([for subnet in aws_subnet.private : subnet.timeouts.delete == "60m"])
    error_message = "destroy must wait out Lambda's removal of its network interfaces (up to 45 minutes)"
  }
}

run "cidr_is_split_into_one_slash_20_per_zone" {
  module {
    source = "./modules/network"
  }

  variables {
    vpc_cidr           = "10.8.0.0/16"
    availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
  }

  assert {
    condition     = [for az in ["us-east-1a", "us-east-1b", "us-east-1c"] : aws_subnet.private[az].cidr_block] == ["10.8.0.0/20", "10.8.16.0/20", "10.8.32.0/20"]
    error_message = "each zone must get its own /20"
  }
}

run "a_slash_20_vpc_is_shared_by_its_zones" {
  module {
    source = "./modules/network"
  }

  variables {
    vpc_cidr = "10.9.0.0/20"
  }

  assert {
    condition     = [for az in ["us-east-1a", "us-east-1b"] : aws_subnet.private[az].cidr_block] == ["10.9.0.0/21", "10.9.8.0/21"]
    error_message = "a /20 VPC over two zones must give each a /21"
  }
}

run "existing_vpc_is_used_as_given" {
  module {
    source = "./modules/network"
  }

  variables {
    create_vpc      = false
    vpc_id          = "vpc-0123456789abcdef0"
    subnet_ids      = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
    route_table_ids = ["rtb-0123456789abcdef0"]
  }

  assert {
    condition     = length(aws_vpc.this) == 0 && length(aws_subnet.private) == 0 && length(aws_route_table.private) == 0
    error_message = "no VPC, subnet or route table may be created"
  }

  assert {
    condition     = output.private_subnet_ids_by_key == tomap({ "subnet-0aaaaaaaaaaaaaaaa" = "subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb" = "subnet-0bbbbbbbbbbbbbbbb" })
    error_message = "the given subnets must be passed on, keyed by ID"
  }

  assert {
    condition     = aws_vpc_endpoint.s3[0].route_table_ids == toset(var.route_table_ids) && aws_security_group.loader.vpc_id == var.vpc_id
    error_message = "the S3 endpoint and the functions' group must go into the given VPC"
  }
}

run "existing_vpc_behind_nat_may_open_https" {
  module {
    source = "./modules/network"
  }

  variables {
    create_vpc               = false
    vpc_id                   = "vpc-0123456789abcdef0"
    subnet_ids               = ["subnet-0aaaaaaaaaaaaaaaa"]
    create_s3_endpoint       = false
    https_egress_cidr_blocks = ["0.0.0.0/0"]
  }

  assert {
    condition     = length(aws_vpc_endpoint.s3) == 0 && aws_vpc_security_group_egress_rule.loader_https["0.0.0.0/0"].to_port == 443
    error_message = "HTTPS egress must be added when asked"
  }
}

run "existing_vpc_with_its_own_s3_endpoint_keeps_https_to_s3" {
  module {
    source = "./modules/network"
  }

  variables {
    create_vpc         = false
    vpc_id             = "vpc-0123456789abcdef0"
    subnet_ids         = ["subnet-0aaaaaaaaaaaaaaaa"]
    create_s3_endpoint = false
  }

  assert {
    condition     = length(aws_vpc_endpoint.s3) == 0 && aws_vpc_security_group_egress_rule.loader_s3[0].prefix_list_id == data.aws_ec2_managed_prefix_list.s3[0].id
    error_message = "without a new endpoint the functions must still reach S3 through its managed prefix list"
  }

  assert {
    condition     = data.aws_ec2_managed_prefix_list.s3[0].name == "com.amazonaws.us-east-1.s3"
    error_message = "the prefix list must be S3's in the module's region"
  }
}

run "existing_vpc_needs_route_tables_for_a_new_s3_endpoint" {
  command = plan

  module {
    source = "./modules/network"
  }

  variables {
    create_vpc = false
    vpc_id     = "vpc-0123456789abcdef0"
    subnet_ids = ["subnet-0aaaaaaaaaaaaaaaa"]
  }

  expect_failures = [aws_security_group.loader]
}

run "existing_subnets_must_lie_in_distinct_zones" {
  command = plan

  module {
    source = "./modules/network"
  }

  variables {
    create_vpc      = false
    vpc_id          = "vpc-0123456789abcdef0"
    subnet_ids      = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
    route_table_ids = ["rtb-0123456789abcdef0"]
  }

  override_data {
    target = data.aws_subnet.given
    values = {
      availability_zone = "us-east-1a"
    }
  }

  expect_failures = [aws_security_group.loader]
}

run "existing_vpc_needs_its_id_and_subnets" {
  command = plan

  module {
    source = "./modules/network"
  }

  variables {
    create_vpc = false
  }

  expect_failures = [aws_security_group.loader]
}

run "rejects_bad_sizes" {
  command = plan

  module {
    source = "./modules/network"
  }

  variables {
    vpc_cidr = "10.0.0.0/24"
    az_count = 7
  }

  expect_failures = [var.vpc_cidr, var.az_count]
}

run "the_s3_endpoint_admits_only_the_deployments_buckets" {
  module {
    source = "./modules/network"
  }

  variables {
    s3_endpoint_bucket_arns = ["arn:aws:s3:::test-models", "arn:aws:s3:::test-data"]
  }

  assert {
    condition = jsondecode(aws_vpc_endpoint.s3[0].policy).Statement == [{
      Sid       = "ReadThisDeploymentsBuckets"
      Effect    = "Allow"
      Principal = "*"
      Action    = ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"]
      Resource  = ["arn:aws:s3:::test-models", "arn:aws:s3:::test-models/*", "arn:aws:s3:::test-data", "arn:aws:s3:::test-data/*"]
    }]
    error_message = "the endpoint must admit reads of the named buckets and nothing else"
  }
}
