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
  cidr_block              = cidrsubnet(var.vpc_cidr, 20 - tonumber(split("/", var.vpc_cidr)[1]), each.value)
  map_public_ip_on_launch = false

  tags = merge({ Name = "${var.name}-private-${each.key}" }, var.tags)
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

resource "aws_vpc_endpoint" "s3" {
  # Without a VPC there is nothing to attach to; the precondition on the security group explains why.
  count = var.create_s3_endpoint && (var.create_vpc || var.vpc_id != null) ? 1 : 0

  vpc_id            = local.vpc_id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = local.route_table_ids

  tags = merge({ Name = "${var.name}-s3" }, var.tags)
}

# Shared by both functions; the storage module adds the NFS rule towards the EFS group.
resource "aws_security_group" "lambda" {
  name_prefix = "${var.name}-lambda-"
  description = "Functions of ${var.name}: NFS to EFS and HTTPS to S3 only"
  vpc_id      = local.vpc_id

  tags = merge({ Name = "${var.name}-lambda" }, var.tags)

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = var.create_vpc || (var.vpc_id != null && length(var.subnet_ids) > 0)
      error_message = "vpc_id and subnet_ids are required when create_vpc is false."
    }
  }
}

resource "aws_vpc_security_group_egress_rule" "lambda_s3" {
  count = length(aws_vpc_endpoint.s3)

  security_group_id = aws_security_group.lambda.id
  description       = "HTTPS to S3 through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_vpc_endpoint.s3[0].prefix_list_id

  tags = merge({ Name = "${var.name}-lambda-s3" }, var.tags)
}

resource "aws_vpc_security_group_egress_rule" "lambda_https" {
  for_each = toset(var.https_egress_cidr_blocks)

  security_group_id = aws_security_group.lambda.id
  description       = "HTTPS egress to ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value

  tags = merge({ Name = "${var.name}-lambda-https" }, var.tags)
}
