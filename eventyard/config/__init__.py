"""eventyard/config package."""
