"""SBML from Antimony: reading, annotation, comp composites and merge maps, diagrams, the build."""
