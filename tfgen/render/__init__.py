"""Templates to files: the Jinja2 rendering, the output tree, Lambda packages, HCL literals and lint."""
