"""The inference function: serves the models of the repository over HTTP (KServe V2, V1 and the original format)."""
