"""tfgen renders plain Terraform for the payment platform from templates and YAML."""

__version__ = "0.1.0"
