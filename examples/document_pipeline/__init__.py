"""Document pipeline: text and images processed in parallel, images in a Map with a Choice on their type."""
