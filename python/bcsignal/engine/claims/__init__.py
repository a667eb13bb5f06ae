"""The claims engine: experiment plans, relations evaluated on trajectories, claim results."""
