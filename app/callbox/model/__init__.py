"""The normalised model: vocabulary, addresses, Piccolo tables."""
