"""Pieces shared by the loader and the inference function: settings, repository layout, model files."""
