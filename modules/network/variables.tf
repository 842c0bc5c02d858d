variable "name" {
  description = "Name prefix for every resource the module creates."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "create_vpc" {
  description = "Create a VPC with private subnets; false to use vpc_id and subnet_ids instead."
  type        = bool
  default     = true
}

variable "vpc_cidr" {
  description = "CIDR block of the created VPC; each private subnet takes a /20 of it, or an equal share of a smaller VPC."
  type        = string
  default     = "10.42.0.0/16"
  nullable    = false

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be an IPv4 CIDR block of /20 or larger."
  }
}

variable "availability_zones" {
  description = "Availability zones for the created subnets; empty picks the first az_count zones of the region."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "az_count" {
  description = "Number of availability zones (one private subnet each) when availability_zones is empty."
  type        = number
  default     = 2
  nullable    = false

  validation {
    condition     = var.az_count >= 1 && var.az_count <= 6 && floor(var.az_count) == var.az_count
    error_message = "az_count must be a whole number from 1 to 6."
  }
}

variable "vpc_id" {
  description = "Existing VPC to use when create_vpc is false."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Existing private subnets (one per availability zone) for the functions and EFS mount targets when create_vpc is false."
  type        = list(string)
  default     = []
}

variable "route_table_ids" {
  description = "Route tables of the existing subnets that get the S3 gateway endpoint when create_vpc is false."
  type        = list(string)
  default     = []
}

variable "create_s3_endpoint" {
  description = "Create an S3 gateway endpoint (free) so the loader reaches S3 without a NAT gateway; false when the route tables already have one (a second fails), which the functions then reach through S3's managed prefix list."
  type        = bool
  default     = true
}

variable "s3_endpoint_bucket_arns" {
  description = "Buckets the S3 gateway endpoint admits (reads only); empty leaves the endpoint's policy open. The root passes this deployment's buckets; in an existing VPC, add the buckets other workloads of route_table_ids read."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "s3_endpoint_write_arns" {
  description = "Object ARNs (with wildcards) the S3 gateway endpoint lets functions write and delete: the root passes the data bucket's output/ when batch scoring is on; empty allows reads only."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "https_egress_cidr_blocks" {
  description = "Extra HTTPS egress for the loader, e.g. [\"0.0.0.0/0\"] behind an existing NAT gateway."
  type        = list(string)
  default     = []
}
