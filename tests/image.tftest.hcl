# The image module against a mocked AWS provider: what it builds, with which flags, and when it builds nothing.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  name = "test"
}

run "a_given_image_is_used_as_is_and_nothing_is_built" {
  command = plan

  module {
    source = "./modules/image"
  }

  variables {
    image_uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/serverless-sklearn:ci"
  }

  assert {
    condition     = output.image_uri == var.image_uri && length(terraform_data.image) == 0 && length(aws_ecr_repository.this) == 0
    error_message = "nothing may be built, and no repository created, when image_uri is given"
  }
}

run "image_is_built_from_docker_and_lambdas_with_a_content_hash_tag" {
  command = plan

  module {
    source = "./modules/image"
  }

  assert {
    condition     = length(terraform_data.image) == 1 && aws_ecr_repository.this[0].image_tag_mutability == "IMMUTABLE"
    error_message = "the image must be built into an immutable repository when image_uri is null"
  }

  assert {
    condition     = can(regex("^[0-9a-f]{24}$", local.image_tag)) && contains(local.image_files, "lambdas/common/settings.py") && contains(local.image_files, "docker/requirements.txt")
    error_message = "the tag must hash the files of docker/ and lambdas/"
  }

  assert {
    condition     = contains(local.image_files, ".dockerignore") && contains(local.image_files, "docker/Dockerfile")
    error_message = "what the build sees (.dockerignore) and the base image's digest (in the Dockerfile) must be part of the tag"
  }

  assert {
    condition = jsondecode(aws_ecr_lifecycle_policy.this[0].policy).rules[0] == {
      rulePriority = 1
      description  = "Never expire the image the functions run"
      selection    = { tagStatus = "tagged", tagPatternList = [local.image_tag], countType = "imageCountMoreThan", countNumber = 1 }
      action       = { type = "expire" }
    } && jsondecode(aws_ecr_lifecycle_policy.this[0].policy).rules[1].selection.tagStatus == "any"
    error_message = "the lifecycle's first rule must hold the running tag, so the count rule after it never expires it"
  }
}

run "docker_builds_without_provenance_attestations" {
  command = plan

  module {
    source = "./modules/image"
  }

  assert {
    condition     = terraform_data.image[0].input.options == tolist(["--provenance=false"])
    error_message = "docker (buildx) must build a single-platform manifest"
  }
}

run "podman_and_buildah_get_no_docker_only_flag" {
  command = plan

  module {
    source = "./modules/image"
  }

  variables {
    image_builder = "/usr/bin/buildah --storage-driver vfs"
  }

  assert {
    condition     = length(terraform_data.image[0].input.options) == 0
    error_message = "buildah rejects --provenance=false: it must not be passed"
  }
}

run "podman_gets_no_docker_only_flag" {
  command = plan

  module {
    source = "./modules/image"
  }

  variables {
    image_builder = "podman"
  }

  assert {
    condition     = length(terraform_data.image[0].input.options) == 0
    error_message = "podman rejects --provenance=false: it must not be passed"
  }
}

run "rejects_bad_settings" {
  command = plan

  module {
    source = "./modules/image"
  }

  variables {
    architecture    = "sparc"
    ecr_keep_images = 0
  }

  expect_failures = [var.architecture, var.ecr_keep_images]
}
