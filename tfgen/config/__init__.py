"""The environment model: layered YAML, the typed model, names, edits and the exported JSON Schema."""
