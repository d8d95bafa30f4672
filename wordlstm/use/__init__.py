"""Using a model: generation, next-word suggestions, scoring, the originality check."""
