"""calnas surrogate layer: predicts calibration and accuracy from the architecture."""
