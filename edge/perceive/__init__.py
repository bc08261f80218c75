"""The perceiving half of the frame loop: a frame in, the faces to draw out."""
