"""The page blueprints, one module per resource; their templates live in templates/<blueprint>/."""
