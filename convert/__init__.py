"""PyTorch -> full-integer int8 TFLite, parity against PyTorch, and models_tflite/manifest.json."""
