"""The worked example of docs/testing.md: a tiny polling-station app and its property tests."""
