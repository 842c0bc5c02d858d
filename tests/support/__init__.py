"""What the tests share: events, models, harnesses and paths, written once. No test module is imported."""
