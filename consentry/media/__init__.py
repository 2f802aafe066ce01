"""Safe media handling: identify by content, decode within limits, sample frames."""
