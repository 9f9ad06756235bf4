"""Access tokens: the token provider (single-flight refresh), the Variable cache, JWT parsing, the code flow."""
