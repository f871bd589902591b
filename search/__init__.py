"""calnas search layer: calibration-aware architecture search with Optuna."""
