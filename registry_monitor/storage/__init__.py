"""The registry's stored content, read straight from its filesystem layout."""
