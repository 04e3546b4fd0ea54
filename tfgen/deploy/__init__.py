"""Terraform runs and their judges: plan, review, apply, traffic moves, preflight checks."""
