"""The loader: copies models from S3 onto the model directory when S3 reports a created or removed object."""
