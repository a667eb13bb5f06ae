"""Core services of every layer: errors, limits, atomic files, screening, isolation, progress, extras."""
