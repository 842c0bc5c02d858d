"""Lambda handlers that serve scikit-learn models from a model repository on EFS.

``lambdas.loader.handler`` copies models from S3 onto the file system; ``lambdas.inference.handler`` serves them.
"""
