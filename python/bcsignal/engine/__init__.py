"""The engine: registry models simulated, their claims evaluated and certified (`bcsignal.engine.run`)."""
