"""The ``provenance`` signal: C2PA Content Credentials, invisible generator watermarks, and
metadata hints (EXIF/XMP/PNG text) that say where media came from."""
