"""What tools read in the shipped SBML: the minute, geometry units, modifier roles, GO terms, creators."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import libsbml
import pytest

from bcsignal import paths
from bcsignal.checks.validation import GO_TERM, PUBMED_REF, annotation_issues, is_species_identity
from bcsignal.core.errors import BcsignalError
from bcsignal.sbml.annotate import (
    AREA_UNIT,
    LENGTH_UNIT,
    SBO_CATALYST,
    SBO_DUAL_MODIFIER,
    SBO_ESSENTIAL_ACTIVATOR,
    SBO_INHIBITOR,
    SBO_MODIFIER,
    SBO_STIMULATOR,
    AnnotationRules,
    Author,
    annotate_semantics,
    creators_of,
    load_annotation_rules,
    modifier_role,
    normalise_units,
    read_authors,
)
from bcsignal.sbml.build import antimony_text_to_sbml, write_sbml_string

SHIPPED = sorted(paths.sbml_dir().glob("*.xml"))
SHIPPED_IDS = [p.stem for p in SHIPPED]


def _models(doc: libsbml.SBMLDocument) -> Iterator[libsbml.Model]:
    """The main model and, in a comp document, every model definition."""
    yield doc.getModel()
    plugin = doc.getPlugin("comp")
    for i in range(plugin.getNumModelDefinitions() if plugin is not None else 0):
        yield plugin.getModelDefinition(i)


def _uris(sbase: libsbml.SBase, *qualifiers: int) -> list[str]:
    found = []
    for i in range(sbase.getNumCVTerms()):
        term = sbase.getCVTerm(i)
        if (
            term.getQualifierType() == libsbml.BIOLOGICAL_QUALIFIER
            and term.getBiologicalQualifierType() in qualifiers
        ):
            found += [term.getResourceURI(j) for j in range(term.getNumResources())]
    return found


@pytest.fixture(scope="module", params=SHIPPED, ids=SHIPPED_IDS)
def shipped(request: pytest.FixtureRequest) -> libsbml.SBMLDocument:
    doc = libsbml.readSBMLFromFile(str(request.param))
    assert doc.getNumErrors(libsbml.LIBSBML_SEV_ERROR) == 0
    return doc


def test_every_reaction_is_a_version_of_a_go_process(shipped: libsbml.SBMLDocument) -> None:
    for model in _models(shipped):
        assert model.getNumReactions() > 0
        for r in model.getListOfReactions():
            uris = _uris(r, libsbml.BQB_IS, libsbml.BQB_IS_VERSION_OF)
            assert any(GO_TERM.match(u) for u in uris), f"{model.getId()}/{r.getId()}"


def test_every_modifier_has_an_sbo_role(shipped: libsbml.SBMLDocument) -> None:
    for model in _models(shipped):
        for r in model.getListOfReactions():
            for ref in r.getListOfModifiers():
                assert ref.isSetSBOTerm() and libsbml.SBO.isModifier(ref.getSBOTerm()), (
                    f"{model.getId()}/{r.getId()}: {ref.getSpecies()}"
                )
                assert ref.getSBOTerm() != SBO_MODIFIER, f"{r.getId()}: {ref.getSpecies()} has no effect"


def test_every_compartment_is_annotated_with_a_cellular_component(shipped: libsbml.SBMLDocument) -> None:
    for model in _models(shipped):
        for c in model.getListOfCompartments():
            uris = _uris(c, libsbml.BQB_IS, libsbml.BQB_IS_VERSION_OF)
            assert any(GO_TERM.match(u) for u in uris), f"{model.getId()}/{c.getId()}"
            assert c.getSBOTerm() == 290


def test_the_minute_is_60_seconds_at_scale_0_and_geometry_units_are_set(
    shipped: libsbml.SBMLDocument,
) -> None:
    for model in _models(shipped):
        time = model.getUnitDefinition(model.getTimeUnits())
        assert time is not None
        (unit,) = time.getListOfUnits()
        assert (unit.getKind(), unit.getMultiplier(), unit.getScale(), unit.getExponent()) == (
            libsbml.UNIT_KIND_SECOND,
            60.0,
            0,
            1.0,
        )
        for definition in model.getListOfUnitDefinitions():
            for u in definition.getListOfUnits():
                if u.getKind() == libsbml.UNIT_KIND_SECOND:
                    assert (u.getMultiplier(), u.getScale()) == (60.0, 0), definition.getId()
        assert (model.getAreaUnits(), model.getLengthUnits()) == (AREA_UNIT, LENGTH_UNIT)
        for uid, exponent in ((AREA_UNIT, 2.0), (LENGTH_UNIT, 1.0)):
            (u,) = model.getUnitDefinition(uid).getListOfUnits()
            assert (u.getKind(), u.getExponent(), u.getScale(), u.getMultiplier()) == (
                libsbml.UNIT_KIND_METRE,
                exponent,
                0,
                1.0,
            )


def test_creators_come_from_the_authors_file(shipped: libsbml.SBMLDocument) -> None:
    authors = read_authors(paths.authors_path())
    history = shipped.getModel().getModelHistory()
    names = [history.getCreator(i) for i in range(history.getNumCreators())]
    written = [
        c.getName() if c.usingSingleName() else f"{c.getGivenName()} {c.getFamilyName()}" for c in names
    ]
    assert written == [a.full_name for a in authors]


def test_crosstalk_citations_survive_in_the_flat_composite() -> None:
    comp_doc = libsbml.readSBMLFromFile(str(paths.sbml_dir() / "composite_comp.xml"))
    flat_doc = libsbml.readSBMLFromFile(str(paths.sbml_dir() / "composite.xml"))
    comp, flat = comp_doc.getModel(), flat_doc.getModel()
    cited = {
        r.getId(): _uris(r, libsbml.BQB_IS_DESCRIBED_BY)
        for r in comp.getListOfReactions()
        if any(PUBMED_REF.match(u) for u in _uris(r, libsbml.BQB_IS_DESCRIBED_BY))
    }
    assert cited, "the composite's crosstalk reactions cite their sources"
    for rid, uris in cited.items():
        assert _uris(flat.getReaction(rid), libsbml.BQB_IS_DESCRIBED_BY) == uris


# -- COPASI reads the files as meant --------------------------------------------------------------------
#: The one COPASI notice allowed: its MIRIAM resource list is older than identifiers.org.
_UNKNOWN_MIRIAM = re.compile(r"^CAnnotation \(\d+\): The MIRIAM resource '[^']+' is unknown to COPASI\b")


@pytest.mark.parametrize("path", SHIPPED, ids=SHIPPED_IDS)
def test_copasi_imports_every_shipped_file_without_warnings(path: Path) -> None:
    pytest.importorskip("COPASI")
    from bcsignal.copasi import drain_messages, new_data_model, retire

    drain_messages()
    dm = new_data_model()
    try:
        assert dm.importSBMLFromString(path.read_text(encoding="utf-8"))
        messages = drain_messages()
        assert messages.errors == []
        assert [w for w in messages.warnings if not _UNKNOWN_MIRIAM.match(w)] == []
        assert dm.getModel().getTimeUnit() == "min"
        assert dm.getModel().getNumReactions() > 0
    finally:
        retire(dm)


# -- the derivations can pass and fail -------------------------------------------------------------------
ROLES_ANT = """
model roles()
  unit substance = 1e-9 mole
  unit volume = litre
  unit time_unit = 60 second
  unit extent = 1e-9 mole
  unit nM = 1e-9 mole / litre
  unit per_min = 1 / 60 second
  unit per_nM_per_min = litre / (1e-9 mole * 60 second)
  compartment cell = 1
  species A in cell = 10 nM
  species B in cell = 5 nM
  species K in cell = 2 nM
  species I in cell = 1 nM
  species S in cell = 1 nM
  species D in cell = 1 nM
  K.sboTerm = 252
  A.sboTerm = 252
  k = 0.1 per_nM_per_min
  kb = 0.1 per_min
  Kd = 1 nM
  phos: A -> B; cell*k*K*A*Kd/(Kd + I)
  phos.sboTerm = 216
  back: B -> A; cell*(kb + k*S)*B
  bell: B -> A; cell*kb*B*D*Kd/(Kd*Kd + D*D)
  made: -> A; cell*k*K*S
  sw = 0 dimensionless
  gated: A -> ; cell*kb*sw*A*Kd/(Kd + G)
  species G in cell = 1 nM
  gated.sboTerm = 179
  back.sboTerm = 330
  bell.sboTerm = 330
  made.sboTerm = 589
end
"""


@pytest.fixture
def roles() -> libsbml.SBMLDocument:
    return antimony_text_to_sbml(ROLES_ANT, "roles", "roles")


def test_modifier_roles_follow_the_sign_of_the_rate_derivative(roles: libsbml.SBMLDocument) -> None:
    model = roles.getModel()
    expected = {
        ("phos", "K"): SBO_CATALYST,  # a protein without which a phosphorylation has no rate
        ("phos", "I"): SBO_INHIBITOR,
        ("back", "S"): SBO_STIMULATOR,  # the basal rate remains without it
        ("bell", "D"): SBO_DUAL_MODIFIER,  # rises, then falls
        ("made", "K"): SBO_ESSENTIAL_ACTIVATOR,  # not a protein: not a catalyst
        ("made", "S"): SBO_ESSENTIAL_ACTIVATOR,
        ("gated", "G"): SBO_INHIBITOR,  # acts only with the switch on: found with zeros raised
    }
    for (rid, sid), role in expected.items():
        reaction = model.getReaction(rid)
        assert sid in [m.getSpecies() for m in reaction.getListOfModifiers()]
        assert modifier_role(model, reaction, sid, frozenset({216})) == role, (rid, sid)
    # without the rule, the kinase of the phosphorylation is only an essential activator
    assert modifier_role(model, model.getReaction("phos"), "K") == SBO_ESSENTIAL_ACTIVATOR
    assert model.getParameter("sw").getValue() == 0  # the raised zeros are put back
    # a modifier that never changes the rate has only the generic role
    model.getReaction("gated").getKineticLaw().setMath(libsbml.parseL3Formula("cell*kb*A*(Kd + G - G)/Kd"))
    assert modifier_role(model, model.getReaction("gated"), "G") == SBO_MODIFIER


def test_an_explicit_modifier_role_takes_precedence(roles: libsbml.SBMLDocument) -> None:
    ref = roles.getModel().getReaction("phos").getModifier("I")
    assert ref.setSBOTerm(SBO_MODIFIER) == libsbml.LIBSBML_OPERATION_SUCCESS
    annotate_semantics(roles, load_annotation_rules(paths.annotation_path()))
    model = roles.getModel()
    assert model.getReaction("phos").getModifier("I").getSBOTerm() == SBO_MODIFIER
    assert model.getReaction("phos").getModifier("K").getSBOTerm() == SBO_CATALYST
    assert model.getReaction("bell").getModifier("D").getSBOTerm() == SBO_DUAL_MODIFIER
    uris = _uris(model.getReaction("phos"), libsbml.BQB_IS_VERSION_OF)
    assert uris == ["http://identifiers.org/GO:0016310"]
    assert libsbml.readSBMLFromString(write_sbml_string(roles)).getNumErrors() == 0


def test_a_reaction_no_rule_names_fails_the_build(roles: libsbml.SBMLDocument) -> None:
    rules = load_annotation_rules(paths.annotation_path())
    with pytest.raises(BcsignalError, match="no rule names the GO process of reaction back"):
        phosphorylation = tuple(r for r in rules.reactions if r.sbo == 216)
        annotate_semantics(roles, AnnotationRules(rules.path, phosphorylation, rules.compartments))


def test_the_minute_is_rewritten_exactly() -> None:
    doc = libsbml.SBMLDocument(3, 2)
    model = doc.createModel()
    definition = model.createUnitDefinition()
    definition.setId("u")
    for multiplier, scale in ((6.0, 1), (3.6, 3), (1.0, -9), (2.5, -1)):
        unit = definition.createUnit()
        unit.setKind(libsbml.UNIT_KIND_SECOND)
        unit.setExponent(1)
        unit.setMultiplier(multiplier)
        unit.setScale(scale)
    normalise_units(model)
    assert [(u.getMultiplier(), u.getScale()) for u in definition.getListOfUnits()] == [
        (60.0, 0),
        (3600.0, 0),
        (1.0, -9),
        (0.25, 0),
    ]


def test_bad_annotation_rules_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "annotation.yaml"
    for text, cause in (
        ("format: 1\nreactions:\n  - {sbo: 216, go: 'GO:16310'}\n", "GO term"),
        ("format: 1\nreactions:\n  - {go: 'GO:0016310'}\n", "needs an `sbo`"),
        ("format: 1\ncompartments:\n  cell: {is: ['cell']}\n", "PREFIX:nnnnnnn"),
        ("format: 2\n", "format: 1"),
    ):
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(BcsignalError, match=re.escape(cause)):
            load_annotation_rules(bad)


# -- the authors file -------------------------------------------------------------------------------------
def test_the_authors_file_is_valid_cff_1_2() -> None:
    authors = read_authors(paths.authors_path())
    assert authors and all(a.full_name for a in authors)


def test_a_broken_authors_file_is_refused(tmp_path: Path) -> None:
    cff = tmp_path / "CITATION.cff"
    head = "cff-version: 1.2.0\nmessage: m\ntitle: t\n"
    for text, cause in (
        ("message: m\ntitle: t\nauthors: [{name: x}]\n", "cff-version"),
        (head + "authors: []\n", "non-empty list"),
        (head + "authors: [{family-names: Doe}]\n", "given-names and family-names"),
        (head + "authors: [{name: x, nickname: y}]\n", "unknown fields nickname"),
        (head + "authors: [{given-names: J, family-names: D, orcid: '0000'}]\n", "orcid"),
        ("cff-version: 1.1.0\nmessage: m\ntitle: t\nauthors: [{name: x}]\n", "1.2.0"),
    ):
        cff.write_text(text, encoding="utf-8")
        with pytest.raises(BcsignalError, match=re.escape(cause)):
            read_authors(cff)
    cff.write_text(head + "authors:\n  - {given-names: Jane, family-names: Doe, affiliation: Lab}\n")
    assert read_authors(cff) == [Author(given_name="Jane", family_name="Doe", organisation="Lab")]


def test_the_authors_file_takes_precedence_over_claims_creators() -> None:
    authors = [Author(name="bcsignal project"), Author(given_name="Jane", family_name="Doe")]
    curation = {"creators": [{"given_name": "bcsignal", "family_name": "developers", "organisation": "x"}]}
    assert creators_of(curation, authors) == authors
    assert creators_of(curation, None) == [
        Author(given_name="bcsignal", family_name="developers", organisation="x")
    ]


def test_no_placeholder_creator_is_shipped() -> None:
    for path in SHIPPED:
        doc = libsbml.readSBMLFromFile(str(path))  # the document owns the model: keep it alive
        history = doc.getModel().getModelHistory()
        for i in range(history.getNumCreators()):
            creator = history.getCreator(i)
            assert (creator.getGivenName(), creator.getFamilyName()) != ("bcsignal", "developers"), path.name


# -- identifiers.org, legacy and current ------------------------------------------------------------------
@pytest.mark.parametrize(
    "uri",
    [
        "http://identifiers.org/uniprot/P40763",
        "https://identifiers.org/uniprot:P40763",
        "http://identifiers.org/chebi/CHEBI:33699",
        "https://identifiers.org/CHEBI:33699",
        "https://identifiers.org/chebi:CHEBI:33699",
        "http://identifiers.org/mirbase.mature/MIMAT0001341",
        "https://identifiers.org/mirbase.mature:MIMAT0001341",
        "https://identifiers.org/mirbase:MI0000090",
    ],
)
def test_species_identities_are_accepted_in_both_forms(uri: str) -> None:
    assert is_species_identity(uri)


@pytest.mark.parametrize(
    "uri",
    [
        "http://identifiers.org/uniprot",
        "https://identifiers.org/uniprot:",
        "http://example.org/uniprot/P40763",
    ],
)
def test_malformed_identities_are_refused(uri: str) -> None:
    assert not is_species_identity(uri)


@pytest.mark.parametrize("form", ["legacy", "current"])
def test_validate_annotations_accepts_both_uri_forms(form: str) -> None:
    doc = libsbml.readSBMLFromFile(str(paths.sbml_path(SHIPPED_IDS[0])))
    model = doc.getModel()
    assert annotation_issues(model) == []
    if form == "current":
        text = write_sbml_string(doc)
        text = re.sub(
            r"identifiers\.org/(uniprot|pubmed|doi|mirbase\.mature|mirbase|taxonomy)/",
            r"identifiers.org/\1:",
            text,
        )
        text = re.sub(r"identifiers\.org/(chebi|psimod|go)/", "identifiers.org/", text)
        text = text.replace("http://identifiers.org/", "https://identifiers.org/")
        assert "identifiers.org/uniprot:" in text
        doc = libsbml.readSBMLFromString(text)
        model = doc.getModel()
    assert annotation_issues(model) == []
    bare = model.getListOfSpecies()[0]
    bare.unsetCVTerms()
    assert [i.message for i in annotation_issues(model) if bare.getId() in i.message]


def test_the_package_authors_are_the_authors_file() -> None:
    import tomllib

    root = paths.project_root()
    if root is None:
        pytest.skip("an installed wheel has no pyproject.toml")
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert [a["name"] for a in project["authors"]] == [
        a.full_name for a in read_authors(paths.authors_path())
    ]
