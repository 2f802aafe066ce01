"""Hash banks: lists of known media hashes (NCII, deepfakes, allow lists) to match against."""
