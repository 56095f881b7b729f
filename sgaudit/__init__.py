"""sgaudit: audit Coiled cluster security groups against the options that should shape them."""

__version__ = "0.1.0"
