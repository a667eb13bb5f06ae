"""A paper's ids in the flattened composite, through the comp links and the merge map (a paper's cuts)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import libsbml

from bcsignal import registry
from bcsignal.core.screen import read_screened
from bcsignal.engine.switchboard import ModelIds, NotApplicableError
from bcsignal.registry import ModelEntry
from bcsignal.sbml import compose
from bcsignal.spec.claims import Cut

Translator = Callable[[str, str], str]


class CompositeIds:
    """A paper's elements and cuts on the ids of the flattened composite.

    An element linked to a top-level one becomes it; an element of a paper that the composite does not
    link is ``instance__element`` (libsbml's flattening). A paper element the composite deleted has, in
    the merge map, the composite element that ``became`` its role: a reaction merged into one top-level
    step. A cut on it is translated only where the translation means the same edit:

    * ``clamp X in R``, R merged into R': ``clamp X' in R'`` if the merged rate law reads X', else not
      applicable (the merged step no longer has X);
    * ``clamp X`` (everywhere): ``clamp X'`` everywhere if the composite's steps that read X' are the
      paper's (translated), else not translatable (it would clamp X' in other papers' steps too);
    * ``set P`` of a replaced parameter: a set of the top-level parameter that replaces it; of a deleted
      one: not translatable (its ``became`` is the element that took over its role, another quantity);
    * ``delete R``, R merged into R': ``delete R'`` only if R' is a top-level reaction and R the only
      paper reaction merged into it, else not translatable (deleting R' would remove the other papers'
      flux too).
    """

    def __init__(
        self,
        comp: libsbml.SBMLDocument,
        flat: ModelIds,
        merge: Sequence[compose.MergeEntry] = (),
    ) -> None:
        self.flat = flat
        self.models = compose.instances(comp)
        self.instance_of = {model: inst for inst, model in self.models.items()}
        self.linked = {(link.instance, link.element): link for link in compose.links(comp)}
        self.merged = compose.merge_index(merge)
        plugin = comp.getPlugin("comp")
        self._reactions: dict[str, set[str]] = {}
        #: Each instance's own model (its model definition in the comp document), by instance.
        self.papers: dict[str, ModelIds] = {}
        for inst, model_ref in self.models.items():
            definition = plugin.getModelDefinition(model_ref) if plugin is not None else None
            found = {r.getId() for r in definition.getListOfReactions()} if definition is not None else set()
            self._reactions[inst] = found
            if definition is not None:
                self.papers[inst] = ModelIds(definition)

    def _instance(self, paper: str) -> str:
        inst = self.instance_of.get(paper)
        if inst is None:
            raise NotApplicableError(f"{paper} is not a submodel of the composite")
        return inst

    def _flat(self, became: str) -> str:
        """Return a merge map's ``became`` on flattened ids (``instance.element`` is a submodel's)."""
        inst, dot, element = became.partition(".")
        return compose.flat_id(inst, element) if dot and inst in self.models else became

    def _deleted(self, inst: str, element: str) -> compose.MergeEntry | None:
        """Return the merge-map entry of a paper element the composite deleted (None: not deleted)."""
        link = self.linked.get((inst, element))
        if link is None or link.action != "deleted":
            return None
        entry = self.merged.get(f"{inst}.{element}")
        if entry is None:
            raise NotApplicableError(f"{inst}.{element} is deleted in the composite, with no replacement")
        return entry

    def element(self, paper: str, element: str) -> str:
        """Return a paper element's flattened composite id (NotApplicableError when there is none)."""
        inst = self._instance(paper)
        link = self.linked.get((inst, element))
        candidates = [compose.flat_id(inst, element)]
        if link is not None and link.action == "deleted":
            entry = self._deleted(inst, element)
            assert entry is not None
            raise NotApplicableError(
                f"{inst}.{element} is deleted in the composite; {entry.became} took over its role "
                f"(merge map: {entry.why})"
            )
        if link is not None:
            candidates = [link.became or element, *candidates]
        found = next((c for c in candidates if c in self.flat.all), None)
        if found is None:
            raise NotApplicableError(f"{element} of {paper} has no counterpart in the composite")
        return found

    def step(self, paper: str, where: str) -> tuple[str, str | None]:
        """Return the composite reaction or rule a paper's reaction or rule is, and what it was merged from.

        The second item is ``instance.element`` when the paper's step was deleted and merged into the
        returned one, else None.
        """
        inst = self._instance(paper)
        entry = self._deleted(inst, where)
        if entry is None:
            return self.element(paper, where), None
        became = self._flat(entry.became or "")
        if became not in self.flat.reactions and became not in self.flat.rules:
            raise NotApplicableError(
                f"{inst}.{where} is deleted in the composite; the merge map says it became {became!r}, "
                "which is no reaction or rule of the flattened composite"
            )
        return became, f"{inst}.{where}"

    def merged_with(self, merged: str, became: str) -> list[str]:
        """Return the other paper reactions the merge map merges into the same composite reaction."""
        return sorted(
            key
            for key, entry in self.merged.items()
            if self._flat(entry.became or "") == became
            and key != merged
            and key.split(".", 1)[1] in self._reactions.get(key.split(".", 1)[0], set())
        )

    def cut(self, paper: str, cut: Cut) -> Cut:
        """Return a paper's cut on the composite's ids (NotApplicableError, naming why, when it has none)."""
        inst = self._instance(paper)
        if cut.kind == "set":
            link = self.linked.get((inst, cut.target))
            if link is not None and link.action == "deleted":
                entry = self._deleted(inst, cut.target)
                assert entry is not None
                raise NotApplicableError(
                    f"not translatable: {inst}.{cut.target} is deleted in the composite and {entry.became} "
                    f"took over its role ({entry.why}); setting {entry.became} would be another edit"
                )
            return cut.renamed(self.element(paper, cut.target), None)
        if cut.kind == "delete":
            reaction, merged = self.step(paper, cut.target)
            if merged is not None:
                owner = next((i for i in self.models if reaction.startswith(compose.flat_id(i, ""))), None)
                if owner is not None:
                    raise NotApplicableError(
                        f"not translatable: {merged} is deleted in the composite and {owner}'s own reaction "
                        f"{reaction} took over its role; deleting it would remove {owner}'s flux too"
                    )
                others = self.merged_with(merged, reaction)
                if others:
                    raise NotApplicableError(
                        f"not translatable: {merged} is merged into {reaction} with {', '.join(others)}; "
                        f"deleting {reaction} would remove their flux too"
                    )
            return cut.renamed(reaction, None)
        species = self.element(paper, cut.target)
        if cut.inside is None:
            own = self.papers.get(inst)
            if own is not None:
                mine = {self.step(paper, site)[0] for site in own.sites(cut.target)}
                extra = sorted(set(self.flat.sites(species)) - mine)
                if extra:
                    raise NotApplicableError(
                        f"not translatable: in the composite {species} is also a modifier in "
                        f"{', '.join(extra)}, which {paper} does not have; clamping it everywhere would cut "
                        "them too (write the clamp in each of the paper's steps)"
                    )
            return cut.renamed(species, None)
        where, merged = self.step(paper, cut.inside)
        if merged is not None and not self.flat.reads(where, species):
            raise NotApplicableError(
                f"not applicable: {merged} is merged into {where}, whose rate law or rule does not read "
                f"{species} (the merged step has no {cut.target} term)"
            )
        return cut.renamed(species, where)


def composite_translator(
    comp: libsbml.SBMLDocument, flat: ModelIds, merge: Sequence[compose.MergeEntry] = ()
) -> Translator:
    """Return (paper model id, paper element id) -> flattened composite id, as libsbml flattens.

    A linked element becomes the top-level element it is merged into; a deleted one raises
    NotApplicableError naming what took over its role; any other paper element is ``instance__element``.
    """
    return CompositeIds(comp, flat, merge).element


def shipped_merge_map(comp: libsbml.SBMLDocument) -> list[compose.MergeEntry]:
    """Return the merge map of a comp document's model in the registry in use (empty when it has none)."""
    model_id = comp.getModel().getId() if comp.getModel() is not None else ""
    if model_id not in registry.current().ids():
        return []
    return registry.entry(model_id).merge_map


def composite_document(entry: ModelEntry) -> libsbml.SBMLDocument | None:
    """Return a built composite's comp document (None for a paper model or before it is built)."""
    from bcsignal.sbml.io import read_document

    path = entry.comp_sbml
    if path is None or not path.is_file():
        return None
    return read_document(read_screened(path), str(path))
