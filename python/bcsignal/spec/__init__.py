"""The data files' formats: claims files, experiments' protocols, provenance tables, merge maps."""
