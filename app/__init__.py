"""The GPU-backed web service that the pipeline ships."""
