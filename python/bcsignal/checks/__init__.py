"""Checks of built SBML files: libsbml, units, interface, provenance, annotations, steady start."""
