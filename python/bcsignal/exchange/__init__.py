"""SED-ML L1V3 and COMBINE/OMEX archives encoding every claim's experiment, and running them elsewhere.

Every phase of every claimed experiment is its own SED-ML model and task, so that a
SED-ML tool needs no repeated tasks, no chained simulations and no steady-state
solver to run it right:

* a phase starts from a state bcsignal computed: the pre-equilibrated steady state for
  the first phase, the end of the phase before for the next ones. Each distinct phase
  start is its own SBML file in the archive: the model's SBML, written by libsbml, with
  the initial values of the knobs in effect during the phase and of every state variable
  (species concentrations, rate-rule parameters) at that state;
* a phase's model is that file as it is (no model changes), so the SED-ML stays small and no
  simulator can carry a value over from another task;
* a phase's task is one uniform time course from 0 to the phase's duration, with
  CVODE and bcsignal's tolerances.

Data generators give each readout and the protocol time (time 0 = start of the
first phase, so a phase's times start at its own start); each claim has a plot of
its readouts in its experiments, and every task a report. Models and simulations
that phases share are written once. Titles and ids are plain ASCII without quotes,
so that generators pasting them into code (tellurium) cannot break.

The package's modules, in the order data flows: `schedule` (experiments as phases and their
start states), `sedml` (the SED-ML document), `omex` (the archive: manifest, metadata, zip, and
reading one back), `execute` (running an archive in tellurium, the BioSimulators simulators and
COPASI), `compare` (their results against bcsignal's).
"""

from __future__ import annotations

from bcsignal.exchange.compare import Disagreement, compare, reference_trajectories
from bcsignal.exchange.execute import (
    OMEX_SPEC_TERMS,
    SIMULATOR_TIMEOUT,
    ArchiveResults,
    biosimulators_validation,
    run_with_biosimulators,
    run_with_copasi,
    run_with_tellurium,
    tellurium_files,
)
from bcsignal.exchange.omex import (
    FORMAT_MANIFEST,
    FORMAT_METADATA,
    FORMAT_OMEX,
    FORMAT_SBML,
    FORMAT_SEDML,
    LICENCE_URI,
    OMEX_SUFFIX,
    ZIP_DATE,
    Archive,
    build_archive,
    checked_members,
    dates,
    export,
    manifest_xml,
    metadata_rdf,
    model_archive,
    model_description,
    omex_dir,
    read_member,
    sedml_member,
    zip_members,
)
from bcsignal.exchange.schedule import (
    DIGITS,
    INTERVALS_PER_PHASE,
    MAX_TITLE,
    PhaseRun,
    Plan,
    State,
    plain,
    plan_experiments,
    sbml_values,
    state_locations,
    state_sbml,
)
from bcsignal.exchange.sedml import (
    KISAO_ABSOLUTE_TOLERANCE,
    KISAO_CVODE,
    KISAO_MAXIMUM_NUM_STEPS,
    KISAO_RELATIVE_TOLERANCE,
    MAX_SEDML_BYTES,
    SBML_NS,
    SEDML_LEVEL,
    SEDML_VERSION,
    TIME_SYMBOL,
    sedml_document,
    sedml_errors,
)

__all__ = [
    "DIGITS",
    "FORMAT_MANIFEST",
    "FORMAT_METADATA",
    "FORMAT_OMEX",
    "FORMAT_SBML",
    "FORMAT_SEDML",
    "INTERVALS_PER_PHASE",
    "KISAO_ABSOLUTE_TOLERANCE",
    "KISAO_CVODE",
    "KISAO_MAXIMUM_NUM_STEPS",
    "KISAO_RELATIVE_TOLERANCE",
    "LICENCE_URI",
    "MAX_SEDML_BYTES",
    "MAX_TITLE",
    "OMEX_SPEC_TERMS",
    "OMEX_SUFFIX",
    "SBML_NS",
    "SEDML_LEVEL",
    "SEDML_VERSION",
    "SIMULATOR_TIMEOUT",
    "TIME_SYMBOL",
    "ZIP_DATE",
    "Archive",
    "ArchiveResults",
    "Disagreement",
    "PhaseRun",
    "Plan",
    "State",
    "biosimulators_validation",
    "build_archive",
    "checked_members",
    "compare",
    "dates",
    "export",
    "manifest_xml",
    "metadata_rdf",
    "model_archive",
    "model_description",
    "omex_dir",
    "plain",
    "plan_experiments",
    "read_member",
    "reference_trajectories",
    "run_with_biosimulators",
    "run_with_copasi",
    "run_with_tellurium",
    "sbml_values",
    "sedml_document",
    "sedml_errors",
    "sedml_member",
    "state_locations",
    "state_sbml",
    "tellurium_files",
    "zip_members",
]
