data "aws_region" "current" {}

data "aws_availability_zones" "available" {
  count = var.create_vpc && length(var.availability_zones) == 0 ? 1 : 0

  # Regular zones only (no Local or Wavelength Zones); not filtered on state, so a zone's bad day never moves subnets.
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  azs = var.create_vpc ? (
    length(var.availability_zones) > 0 ? var.availability_zones : slice(data.aws_availability_zones.available[0].names, 0, var.az_count)
  ) : []

  vpc_id = var.create_vpc ? aws_vpc.this[0].id : var.vpc_id

  # Keyed by availability zone when created, by subnet id when given: both are known at plan time.
  private_subnets = var.create_vpc ? { for az, subnet in aws_subnet.private : az => subnet.id } : { for id in var.subnet_ids : id => id }

  route_table_ids = var.create_vpc ? [aws_route_table.private[0].id] : var.route_table_ids

  # Each subnet is a /20 where the VPC has room for one per zone, else an equal share of the VPC: a /20 VPC over two
  # zones gets two /21s.
  vpc_prefix     = tonumber(split("/", var.vpc_cidr)[1])
  subnet_newbits = max(20 - local.vpc_prefix, ceil(log(max(length(local.azs), 1), 2)))
}

resource "aws_vpc" "this" {
  count = var.create_vpc ? 1 : 0

  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge({ Name = var.name }, var.tags)
}

# The default group of a new VPC allows all traffic between its members; nothing here uses it, so it is emptied.
resource "aws_default_security_group" "this" {
  count = var.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge({ Name = "${var.name}-default" }, var.tags)
}

resource "aws_subnet" "private" {
  for_each = { for index, az in local.azs : az => index }

  vpc_id                  = aws_vpc.this[0].id
  availability_zone       = each.key
  cidr_block              = cidrsubnet(var.vpc_cidr, local.subnet_newbits, each.value)
  map_public_ip_on_launch = false

  tags = merge({ Name = "${var.name}-private-${each.key}" }, var.tags)

  # Lambda removes a deleted function's network interfaces in its own time, up to about 45 minutes: the subnet
  # and the functions' group cannot go before them.
  timeouts {
    delete = "60m"
  }
}

# No internet or NAT route: the functions reach S3 through the gateway endpoint and EFS inside the VPC.
resource "aws_route_table" "private" {
  count = var.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge({ Name = "${var.name}-private" }, var.tags)
}

resource "aws_route_table_association" "private" {
  for_each = aws_subnet.private

  subnet_id      = each.value.id
  route_table_id = aws_route_table.private[0].id
}

# The given subnets, to check they lie in distinct zones (EFS takes one mount target per zone).
data "aws_subnet" "given" {
  for_each = var.create_vpc ? toset([]) : toset(var.subnet_ids)

  id = each.value
}

# The AWS-managed prefix list of S3 in this region: what any S3 gateway endpoint routes, so an existing endpoint's
# destinations are known without creating a second one.
data "aws_ec2_managed_prefix_list" "s3" {
  count = var.create_s3_endpoint ? 0 : 1

  name = "com.amazonaws.${data.aws_region.current.name}.s3"
}

resource "aws_vpc_endpoint" "s3" {
  # Without a VPC there is nothing to attach to; the precondition on the security group explains why.
  count = var.create_s3_endpoint && (var.create_vpc || var.vpc_id != null) ? 1 : 0

  vpc_id            = local.vpc_id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = local.route_table_ids

  # Only this deployment's buckets: reads, and writes under the batch answers' prefix alone. Code that got into a function cannot carry
  # data out to a bucket of its own through this endpoint. Other buckets reached from these route tables are named
  # in s3_endpoint_bucket_arns too.
  policy = length(var.s3_endpoint_bucket_arns) == 0 ? null : jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Sid       = "ReadThisDeploymentsBuckets"
        Effect    = "Allow"
        Principal = "*"
        Action    = ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"]
        Resource  = flatten([for arn in var.s3_endpoint_bucket_arns : [arn, "${arn}/*"]])
      },
      ],
      length(var.s3_endpoint_write_arns) == 0 ? [] : [{
        # The batch worker's answers: written (in parts, then as one file) and its parts removed, there alone.
        Sid       = "WriteBatchAnswers"
        Effect    = "Allow"
        Principal = "*"
        Action    = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
        Resource  = var.s3_endpoint_write_arns
    }])
  })

  tags = merge({ Name = "${var.name}-s3" }, var.tags)
}

moved {
  from = aws_security_group.lambda
  to   = aws_security_group.loader
}

moved {
  from = aws_vpc_security_group_egress_rule.lambda_s3
  to   = aws_vpc_security_group_egress_rule.loader_s3
}

moved {
  from = aws_vpc_security_group_egress_rule.lambda_https
  to   = aws_vpc_security_group_egress_rule.loader_https
}

# The inference function's group: the storage module adds NFS to EFS, and nothing else goes out. It reads models
# from EFS alone, so it has no network path to S3 (or anywhere else).
resource "aws_security_group" "inference" {
  name_prefix = "${var.name}-inference-"
  description = "Inference function of ${var.name}: NFS to EFS only"
  vpc_id      = local.vpc_id

  tags = merge({ Name = "${var.name}-inference" }, var.tags)

  timeouts {
    delete = "60m"
  }

  lifecycle {
    create_before_destroy = true
  }
}

# The loader's group; the storage module adds the NFS rule towards the EFS group.
resource "aws_security_group" "loader" {
  name_prefix = "${var.name}-loader-"
  description = "Loader of ${var.name}: NFS to EFS and HTTPS to S3 only"
  vpc_id      = local.vpc_id

  tags = merge({ Name = "${var.name}-loader" }, var.tags)

  timeouts {
    delete = "60m"
  }

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = var.create_vpc || (var.vpc_id != null && length(var.subnet_ids) > 0)
      error_message = "vpc_id and subnet_ids are required when create_vpc is false."
    }

    precondition {
      condition     = var.create_vpc || !var.create_s3_endpoint || length(var.route_table_ids) > 0
      error_message = "route_table_ids is empty: the S3 gateway endpoint would reach no subnet and the loader could not read S3. Give the route tables of subnet_ids, or set create_s3_endpoint = false when they already have an S3 gateway endpoint."
    }

    precondition {
      condition     = length(distinct([for subnet in data.aws_subnet.given : subnet.availability_zone])) == length(data.aws_subnet.given)
      error_message = "subnet_ids must lie in distinct availability zones: EFS has one mount target per zone, so a second subnet in a zone cannot get one."
    }
  }
}

# The batch worker: NFS to EFS (added by the storage module) and HTTPS to S3, like the loader, in a group of its own.
resource "aws_security_group" "batch" {
  name_prefix = "${var.name}-batch-"
  description = "Batch worker of ${var.name}: NFS to EFS and HTTPS to S3 only"
  vpc_id      = local.vpc_id

  tags = merge({ Name = "${var.name}-batch" }, var.tags)

  timeouts {
    delete = "60m"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "batch_s3" {
  count = var.create_s3_endpoint && length(aws_vpc_endpoint.s3) == 0 ? 0 : 1

  security_group_id = aws_security_group.batch.id
  description       = "HTTPS to S3 through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = var.create_s3_endpoint ? aws_vpc_endpoint.s3[0].prefix_list_id : data.aws_ec2_managed_prefix_list.s3[0].id

  tags = merge({ Name = "${var.name}-batch-s3" }, var.tags)
}

# HTTPS to S3 through the endpoint this module creates or, when the VPC already has one, through S3's prefix list.
resource "aws_vpc_security_group_egress_rule" "loader_s3" {
  count = var.create_s3_endpoint && length(aws_vpc_endpoint.s3) == 0 ? 0 : 1

  security_group_id = aws_security_group.loader.id
  description       = "HTTPS to S3 through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = var.create_s3_endpoint ? aws_vpc_endpoint.s3[0].prefix_list_id : data.aws_ec2_managed_prefix_list.s3[0].id

  tags = merge({ Name = "${var.name}-lambda-s3" }, var.tags)
}

resource "aws_vpc_security_group_egress_rule" "loader_https" {
  for_each = toset(var.https_egress_cidr_blocks)

  security_group_id = aws_security_group.loader.id
  description       = "HTTPS egress to ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value

  tags = merge({ Name = "${var.name}-lambda-https" }, var.tags)
}
