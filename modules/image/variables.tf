variable "name" {
  description = "Name of the ECR repository; also the prefix of every resource the module creates."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "image_uri" {
  description = "Image to run instead of building one (e.g. a tag pushed by CI); null builds docker/ and pushes it to the module's ECR repository."
  type        = string
  default     = null
}

variable "image_builder" {
  description = "Command that builds and pushes the image when image_uri is null: docker, podman, or buildah, with options (\"buildah --storage-driver vfs\")."
  type        = string
  default     = "docker"
  nullable    = false
}

variable "image_build_options" {
  description = "Extra options for the build command; null uses the builder's own: --provenance=false for docker (Lambda needs a single-platform manifest, which buildx's attestations break), none for podman and buildah, which reject that flag."
  type        = list(string)
  default     = null
}

variable "build_interpreter" {
  description = "Interpreter of the POSIX shell build script; on Windows, a bash from Git for Windows or WSL, e.g. [\"bash\", \"-c\"]."
  type        = list(string)
  default     = ["/bin/sh", "-c"]
  nullable    = false
}

variable "source_dir" {
  description = "Repository root holding docker/ and lambdas/; null uses the one this module ships in."
  type        = string
  default     = null
}

variable "architecture" {
  description = "Instruction set of the image: x86_64 or arm64."
  type        = string
  default     = "x86_64"
  nullable    = false

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "ecr_keep_images" {
  description = "Images the ECR lifecycle policy keeps; older ones expire."
  type        = number
  default     = 10

  validation {
    condition     = var.ecr_keep_images >= 1
    error_message = "ecr_keep_images must be at least 1."
  }
}

variable "ecr_force_delete" {
  description = "Let destroy delete the ECR repository while it still holds images."
  type        = bool
  default     = false
}
