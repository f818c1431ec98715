"""The knowledge base: importing and validating it, and the bundled sample (knowledge/sample/)."""
