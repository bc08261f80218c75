"""The booth: snapshot cards, the button, printing, visitor counts, and their drawings."""
