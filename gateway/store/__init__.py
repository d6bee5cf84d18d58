"""Database access. Only this package writes SQL; everything above it calls its functions."""
