"""The GraphQL types: thin wrappers turning query-layer rows into schema objects."""
