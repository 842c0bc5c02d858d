"""The ``serverless-sklearn`` command line: publish models to a deployment and ask them, from a terminal."""
