"""Offline evaluation (issue 3): ranking metrics and explanation quality on held-out logs."""
