resource "aws_ecr_repository" "this" {
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
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the ${var.ecr_keep_images} most recent images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = var.ecr_keep_images
      }
      action = { type = "expire" }
    }]
  })
}

locals {
  build_image = var.image_uri == null
  source_dir  = abspath(coalesce(var.source_dir, "${path.module}/../.."))

  # The tag is a hash of everything the image is built from, so an unchanged tree never rebuilds and a changed one
  # always gets a new (immutable) tag.
  image_files = local.build_image ? sort(concat(
    [for file in fileset(local.source_dir, "docker/**") : file if !strcontains(file, "__pycache__")],
    [for file in fileset(local.source_dir, "lambdas/**") : file if !strcontains(file, "__pycache__") && !endswith(file, ".pyc")],
  )) : []
  image_tag = substr(sha256(join("\n", [for file in local.image_files : "${file} ${filesha256("${local.source_dir}/${file}")}"])), 0, 24)

  image_uri = local.build_image ? "${aws_ecr_repository.this.repository_url}:${local.image_tag}" : var.image_uri
}

resource "terraform_data" "image" {
  count = local.build_image ? 1 : 0

  triggers_replace = [local.image_uri]

  provisioner "local-exec" {
    interpreter = ["/bin/bash", "-c"]
    command     = <<-EOT
      set -euo pipefail
      aws ecr get-login-password --region "$REGION" | $BUILDER login --username AWS --password-stdin "$${IMAGE%%/*}"
      $BUILDER build --platform "$PLATFORM" $OPTIONS -f "$SOURCE_DIR/docker/Dockerfile" -t "$IMAGE" "$SOURCE_DIR"
      $BUILDER push "$IMAGE"
    EOT
    environment = {
      BUILDER    = var.image_builder
      OPTIONS    = join(" ", var.image_build_options)
      IMAGE      = local.image_uri
      PLATFORM   = var.architecture == "arm64" ? "linux/arm64" : "linux/amd64"
      REGION     = local.region
      SOURCE_DIR = local.source_dir
    }
  }
}
