"""The material catalogue and units of measure: shared by marketplace, purchasing and events."""
