"""Command-line front: thin commands over the pipeline and the stores."""
