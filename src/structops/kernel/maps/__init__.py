"""Map types of the embedded kernel (one module per map type)."""
