data "aws_region" "current" {}

resource "aws_ecr_repository" "this" {
  count = local.build_image ? 1 : 0

  name                 = var.name
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.ecr_force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }

  tags = merge({ Name = var.name }, var.tags)
}

resource "aws_ecr_lifecycle_policy" "this" {
  count = local.build_image ? 1 : 0

  repository = aws_ecr_repository.this[0].name
  # The image the functions run is matched by the first rule, which never expires it (there is only one image with
  # its tag): an image matched by a rule cannot be expired by a later one, so the count below can never take it,
  # however many images are pushed after it.
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Never expire the image the functions run"
        selection = {
          tagStatus      = "tagged"
          tagPatternList = [local.image_tag]
          countType      = "imageCountMoreThan"
          countNumber    = 1
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the ${var.ecr_keep_images} most recent images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.ecr_keep_images
        }
        action = { type = "expire" }
      },
    ]
  })
}

# The registry login comes from the provider's own credentials (profile, assumed role, SSO), so the image goes to
# the account Terraform deploys into; the build needs no AWS CLI.
data "aws_ecr_authorization_token" "this" {
  count = local.build_image ? 1 : 0

  registry_id = aws_ecr_repository.this[0].registry_id
}

locals {
  build_image = var.image_uri == null
  source_dir  = abspath(coalesce(var.source_dir, "${path.module}/../.."))

  # The tag is a hash of everything the image is built from, so an unchanged tree never rebuilds and a changed one
  # always gets a new (immutable) tag.
  # .dockerignore decides what the build sees, and the Dockerfile names the base image by digest: both are hashed.
  image_files = local.build_image ? sort(concat(
    tolist(fileset(local.source_dir, ".dockerignore")),
    [for file in fileset(local.source_dir, "docker/**") : file if !strcontains(file, "__pycache__")],
    [for file in fileset(local.source_dir, "lambdas/**") : file if !strcontains(file, "__pycache__") && !endswith(file, ".pyc")],
  )) : []
  image_tag = substr(sha256(join("\n", [for file in local.image_files : "${file} ${filesha256("${local.source_dir}/${file}")}"])), 0, 24)
  image_uri = local.build_image ? "${aws_ecr_repository.this[0].repository_url}:${local.image_tag}" : var.image_uri

  # docker buildx adds provenance attestations, a multi-platform index Lambda refuses; podman and buildah write a
  # single manifest and reject the flag.
  builder = basename(split(" ", trimspace(var.image_builder))[0])
  build_options = var.image_build_options != null ? var.image_build_options : (
    local.builder == "docker" ? ["--provenance=false"] : []
  )
}

resource "terraform_data" "image" {
  count = local.build_image ? 1 : 0

  triggers_replace = [local.image_uri]
  input = {
    image   = local.image_uri
    builder = var.image_builder
    options = local.build_options
  }

  provisioner "local-exec" {
    interpreter = var.build_interpreter
    command     = file("${path.module}/build.sh")
    environment = {
      BUILDER    = var.image_builder
      OPTIONS    = join(" ", local.build_options)
      IMAGE      = local.image_uri
      PLATFORM   = var.architecture == "arm64" ? "linux/arm64" : "linux/amd64"
      SOURCE_DIR = local.source_dir
      REGISTRY   = split("/", local.image_uri)[0]
      USERNAME   = data.aws_ecr_authorization_token.this[0].user_name
      PASSWORD   = data.aws_ecr_authorization_token.this[0].password
    }
  }
}
