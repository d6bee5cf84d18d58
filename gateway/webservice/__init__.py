"""Web services: Znuny's YAML configuration, the presets, and the registry that serves them."""
