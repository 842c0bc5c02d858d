variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name prefix for every resource."
  type        = string
  default     = "sklearn-complete"
}

variable "image_uri" {
  description = "Prebuilt image for both functions; null builds docker/ with docker and pushes it."
  type        = string
  default     = null
}

variable "allowed_model_formats" {
  description = "Model formats accepted; [\"skops\"] refuses pickles."
  type        = list(string)
  default     = ["joblib", "pkl", "skops"]
}

variable "force_destroy" {
  description = "Let destroy remove the bucket and repository with their contents."
  type        = bool
  default     = true
}

variable "alarm_actions" {
  description = "ARNs (e.g. an SNS topic) notified by the alarms."
  type        = list(string)
  default     = []
}
