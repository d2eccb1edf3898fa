"""path or bytes → Decoded(rgb, scale): safe, fast photo decoding."""
