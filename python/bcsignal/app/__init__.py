"""The applications: the command line, the curation report and its pipeline, users' models."""
