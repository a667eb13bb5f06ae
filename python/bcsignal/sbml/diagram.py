"""Process diagrams: an SBML Layout + Render copy of every model, laid out in layers with networkx.

`bcsignal build` writes ``sbml/diagrams/<id>.layout.xml`` for each model: the model itself plus one
layout (SBML Layout package) whose species, reaction and species-reference glyphs carry SBGN process
description arc classes, and a render style (SBML Render package) giving each class its SBGN line ending.
COPASI, CellDesigner, Newt (via SBML import) and Cytoscape (cy3sbml) open it. The arc class comes from
the SBO role of each modifier already in the SBML: stimulator (SBO:0000459) → stimulation,
inhibitor (SBO:0000020) → inhibition, essential activator (SBO:0000461) → necessary stimulation,
catalyst (SBO:0000013) → catalysis; reactants are consumption, products production.

The layout is a layered drawing: networkx gives the layers (shortest distance from the network's
inputs) and the order within each layer (barycentres of neighbours); boxes are sized from their labels
and stacked with a fixed gap, so no two glyphs overlap. A composite is laid out by paper: one band per
submodel, the species two papers share in a band between them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import libsbml
import networkx as nx

from bcsignal.core.errors import BcsignalError
from bcsignal.registry import layout as registry_layout
from bcsignal.sbml import compose

#: Where the diagrams go, inside sbml/, and the suffix of a diagram file (the registry's layout).
DIAGRAMS, SUFFIX = registry_layout.DIAGRAMS, registry_layout.DIAGRAM_SUFFIX
#: The layout's id in every diagram file.
LAYOUT_ID = "bcsignal_layout"

#: Width of one label character (monospace 12 px text is about 7.2 px; the rest is slack).
CHAR_WIDTH = 7.8
#: Horizontal padding inside a species box, each side.
PAD = 8.0
#: Height of a species box.
SPECIES_HEIGHT = 24.0
#: Side of a reaction (process) square.
PROCESS_SIZE = 10.0
#: Gaps between columns, between boxes in a column, between bands, and around the drawing.
COLUMN_GAP, ROW_GAP, BAND_GAP, MARGIN = 46.0, 14.0, 40.0, 20.0
#: Height reserved for a band's title.
TITLE_HEIGHT = 22.0

#: SBGN process description arc class of each modifier SBO term.
MODIFIER_CLASS = {
    "SBO:0000459": "stimulation",
    "SBO:0000020": "inhibition",
    "SBO:0000461": "necessary stimulation",
    "SBO:0000013": "catalysis",
}
#: SBO term of each arc class (the glyph's SBO term in the layout).
CLASS_SBO = {
    "consumption": "SBO:0000010",
    "production": "SBO:0000011",
    "modulation": "SBO:0000019",
    **{kind: sbo for sbo, kind in MODIFIER_CLASS.items()},
}
SBO_CLASS = {sbo: kind for kind, sbo in CLASS_SBO.items()}
#: The SBML Layout role of each arc class.
LAYOUT_ROLE = {
    "consumption": "substrate",
    "production": "product",
    "stimulation": "activator",
    "necessary stimulation": "activator",
    "inhibition": "inhibitor",
    "catalysis": "modifier",
    "modulation": "modifier",
}
#: Every arc class, in the order a legend lists them.
ARC_CLASSES = tuple(CLASS_SBO)


@dataclass(frozen=True)
class Box:
    """A glyph's bounding box (top-left corner, width, height)."""

    x: float
    y: float
    width: float
    height: float

    @property
    def centre(self) -> tuple[float, float]:
        """The box's centre."""
        return self.x + self.width / 2, self.y + self.height / 2

    def overlaps(self, other: Box) -> bool:
        """Return whether two boxes share interior points."""
        return (
            self.x < other.x + other.width
            and other.x < self.x + self.width
            and self.y < other.y + other.height
            and other.y < self.y + self.height
        )


@dataclass(frozen=True)
class Arc:
    """One arc of the process diagram: a species and a reaction, with its SBGN class."""

    species: str
    reaction: str
    kind: str
    reference: str | None = None  # the species reference's id, if it has one
    #: The arc's line as laid out (read from a layout): it starts at the source and ends at the target.
    start: tuple[float, float] | None = None
    end: tuple[float, float] | None = None


@dataclass
class Diagram:
    """A laid-out process diagram: boxes of species and reactions, arcs, titled bands."""

    width: float
    height: float
    species: dict[str, Box] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    reactions: dict[str, Box] = field(default_factory=dict)
    arcs: list[Arc] = field(default_factory=list)
    bands: list[tuple[str, Box]] = field(default_factory=list)  # title, extent

    def boxes(self) -> dict[str, Box]:
        """Every node glyph's box, by glyph id."""
        return {
            **{f"sg_{k}": v for k, v in self.species.items()},
            **{f"rg_{k}": v for k, v in self.reactions.items()},
        }


def arcs(model: libsbml.Model) -> list[Arc]:
    """Return the arcs of a model: reactants, products and modifiers with their SBGN classes."""
    found = []
    for r in model.getListOfReactions():
        rid = r.getId()
        for ref in r.getListOfReactants():
            found.append(Arc(ref.getSpecies(), rid, "consumption", ref.getId() or None))
        for ref in r.getListOfProducts():
            found.append(Arc(ref.getSpecies(), rid, "production", ref.getId() or None))
        for ref in r.getListOfModifiers():
            kind = MODIFIER_CLASS.get(ref.getSBOTermID(), "modulation")
            found.append(Arc(ref.getSpecies(), rid, kind, ref.getId() or None))
    return found


def _graph(nodes: Sequence[str], edges: Iterable[tuple[str, str]]) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from((a, b) for a, b in edges if a in graph and b in graph)
    return graph


def _layers(graph: nx.DiGraph) -> dict[str, int]:
    """Layer of each node: its shortest distance from the inputs (nodes nothing points to)."""
    layer: dict[str, int] = {}
    left = sorted(graph.nodes)
    sources = [n for n in left if graph.in_degree(n) == 0]
    while left:
        if not sources:  # a cycle nothing enters: start from its first node
            sources = [left[0]]
        reached = nx.multi_source_dijkstra_path_length(graph, sources)
        for node, distance in reached.items():
            if node not in layer:
                layer[node] = int(distance)
        left = [n for n in left if n not in layer]
        sources = []
    return layer


def _band(
    graph: nx.DiGraph, sizes: Mapping[str, tuple[float, float]], left: float, top: float
) -> tuple[dict[str, Box], float, float]:
    """Lay out one band's nodes in layers; return their boxes, the band's width and height."""
    if graph.number_of_nodes() == 0:
        return {}, 0.0, 0.0
    layer = _layers(graph)
    columns: list[list[str]] = [[] for _ in range(max(layer.values()) + 1)]
    for node in sorted(graph.nodes):
        columns[layer[node]].append(node)
    columns = [c for c in columns if c]
    undirected = graph.to_undirected(as_view=True)
    rank = {node: float(i) for column in columns for i, node in enumerate(column)}
    for sweep in (range(1, len(columns)), range(len(columns) - 2, -1, -1), range(1, len(columns))):
        for c in sweep:

            def key(node: str) -> tuple[float, str]:
                around = [rank[n] for n in undirected.neighbors(node) if n != node]
                return (sum(around) / len(around) if around else rank[node], node)

            columns[c].sort(key=key)
            for i, node in enumerate(columns[c]):
                rank[node] = float(i)
    boxes: dict[str, Box] = {}
    x = left
    height = 0.0
    for column in columns:
        width = max(sizes[n][0] for n in column)
        y = top
        for node in column:
            w, h = sizes[node]
            boxes[node] = Box(x + (width - w) / 2, y, w, h)
            y += h + ROW_GAP
        height = max(height, y - ROW_GAP - top)
        x += width + COLUMN_GAP
    return boxes, x - COLUMN_GAP - left, height


def label_width(label: str) -> float:
    """Width of the box of a species labelled `label`."""
    return CHAR_WIDTH * len(label) + 2 * PAD


def layout(model: libsbml.Model, groups: Mapping[str, str] | None = None) -> Diagram:
    """Lay out a model; `groups` maps species and reaction ids to a band title (a composite's papers).

    Nodes missing from `groups` are shared: they go in a band between the bands of the papers.
    """
    species = [s.getId() for s in model.getListOfSpecies()]
    reactions = [r.getId() for r in model.getListOfReactions()]
    found = arcs(model)
    sizes = {s: (label_width(s), SPECIES_HEIGHT) for s in species}
    sizes.update({r: (PROCESS_SIZE, PROCESS_SIZE) for r in reactions})
    edges = [(a.reaction, a.species) if a.kind == "production" else (a.species, a.reaction) for a in found]
    if groups is None:
        bands = [("", [*species, *reactions])]
    else:
        titles = list(dict.fromkeys(groups[n] for n in [*species, *reactions] if n in groups))
        shared = [n for n in [*species, *reactions] if n not in groups]
        bands = [(titles[0], [n for n in groups if groups[n] == titles[0]])] if titles else []
        bands.append(("shared between papers", shared))
        bands += [(t, [n for n in [*species, *reactions] if groups.get(n) == t]) for t in titles[1:]]
    diagram = Diagram(0.0, 0.0, labels={s: s for s in species})
    top = MARGIN
    width = 0.0
    for title, members in bands:
        if not members:
            continue
        head = TITLE_HEIGHT if title else 0.0
        boxes, w, h = _band(_graph(members, edges), sizes, MARGIN, top + head)
        if title:
            diagram.bands.append((title, Box(MARGIN, top, max(w, label_width(title)), h + head)))
        for node, box in boxes.items():
            (diagram.species if node in diagram.labels else diagram.reactions)[node] = box
        width = max(width, w, label_width(title) if title else 0.0)
        top += head + h + BAND_GAP
    diagram.width = width + 2 * MARGIN
    diagram.height = top - BAND_GAP + MARGIN
    diagram.arcs = found
    return diagram


def composite_groups(flat: libsbml.Model, comp: libsbml.SBMLDocument) -> dict[str, str]:
    """Map each element of a flattened composite to the paper model it comes from, if only one.

    ``instance__x`` comes from that instance's paper; a top-level element that replaces elements of
    one instance only belongs to it too; the rest (shared, or the composite's own) is left out.
    """
    models = compose.instances(comp)
    owners: dict[str, set[str]] = {}
    for link in compose.links(comp):
        if link.became is not None:
            owners.setdefault(link.became, set()).add(link.instance)
    groups = {}
    for element in [*flat.getListOfSpecies(), *flat.getListOfReactions()]:
        sid = element.getId()
        prefix, sep, _ = sid.partition("__")
        if sep and prefix in models:
            groups[sid] = models[prefix]
        elif len(owners.get(sid, ())) == 1:
            groups[sid] = models[next(iter(owners[sid]))]
    return groups


# ---------------------------------------------------------------------------
# SBML Layout + Render
# ---------------------------------------------------------------------------
#: SBGN line ending of each modifier arc class, drawn in a 12 × 12 box whose right edge touches the target:
#: polygons as (x, y) points, ellipses as (cx, cy, r).
_ENDINGS: dict[str, list[tuple[str, tuple[float, ...]]]] = {
    "production": [("polygon", (0, 0, 12, 6, 0, 12))],
    "stimulation": [("open-polygon", (0, 0, 12, 6, 0, 12))],
    "inhibition": [("polygon", (9, 0, 12, 0, 12, 12, 9, 12))],
    "necessary stimulation": [
        ("polygon", (0, 0, 2, 0, 2, 12, 0, 12)),
        ("open-polygon", (4, 0, 12, 6, 4, 12)),
    ],
    "catalysis": [("open-ellipse", (6, 6, 5.5))],
    "modulation": [("open-polygon", (0, 6, 6, 0, 12, 6, 6, 12))],
}
_COLOURS = {"black": "#24292f", "white": "#ffffff", "species_fill": "#ddf4ff", "species_line": "#0969da"}


def _ending_id(kind: str) -> str:
    return "end_" + kind.replace(" ", "_")


def glyph_id(prefix: str, element: str) -> str:
    """The id of the glyph of an element (`sg_` species, `rg_` reaction, `tg_` text)."""
    return f"{prefix}_{element}"


def _rel(value: float) -> libsbml.RelAbsVector:
    return libsbml.RelAbsVector(float(value), 0.0)


def _render(layout: libsbml.Layout, diagram: Diagram, arc_ids: Mapping[str, list[str]]) -> None:
    rns = libsbml.RenderPkgNamespaces(3, 2, 1)
    info = layout.getPlugin("render").createLocalRenderInformation()
    info.setId("sbgn_pd_style")
    info.setName("SBGN process description")
    for cid, value in _COLOURS.items():
        colour = info.createColorDefinition()
        colour.setId(cid)
        colour.setColorValue(value)
    for kind, shapes in _ENDINGS.items():
        ending = info.createLineEnding()
        ending.setId(_ending_id(kind))
        ending.setEnableRotationalMapping(True)
        ending.setBoundingBox(
            libsbml.BoundingBox(
                libsbml.LayoutPkgNamespaces(3, 2, 1), f"bb_{_ending_id(kind)}", -12, -6, 12, 12
            )
        )
        group = ending.getGroup()
        group.setStroke("black")
        group.setStrokeWidth(1.2)
        for shape, values in shapes:
            if shape.endswith("ellipse"):
                ellipse = group.createEllipse()
                ellipse.setCX(_rel(values[0]))
                ellipse.setCY(_rel(values[1]))
                ellipse.setRX(_rel(values[2]))
                ellipse.setRY(_rel(values[2]))
                ellipse.setFill("white")
                continue
            polygon = group.createPolygon()
            for x, y in zip(values[::2], values[1::2], strict=True):
                point = polygon.createPoint()
                point.setX(_rel(x))
                point.setY(_rel(y))
            polygon.setFill("white" if shape.startswith("open") else "black")
    del rns

    def style(sid: str, *, ids: Sequence[str] = (), types: Sequence[str] = ()) -> libsbml.RenderGroup:
        entry = info.createStyle(sid)
        for i in ids:
            entry.addId(i)
        for t in types:
            entry.addType(t)
        group = entry.getGroup()
        group.setStroke("black")
        group.setStrokeWidth(1.2)
        return group

    box = style("species_style", types=["SPECIESGLYPH"])
    box.setStroke("species_line")
    rectangle = box.createRectangle()
    for setter, corner in (("setX", 0.0), ("setY", 0.0), ("setRX", 6.0), ("setRY", 6.0)):
        getattr(rectangle, setter)(_rel(corner))
    rectangle.setWidth(libsbml.RelAbsVector(0.0, 100.0))
    rectangle.setHeight(libsbml.RelAbsVector(0.0, 100.0))
    rectangle.setFill("species_fill")
    process = style("process_style", types=["REACTIONGLYPH"])
    square = process.createRectangle()
    for setter in ("setX", "setY"):
        getattr(square, setter)(_rel(0.0))
    square.setWidth(libsbml.RelAbsVector(0.0, 100.0))
    square.setHeight(libsbml.RelAbsVector(0.0, 100.0))
    square.setFill("white")
    text = style("text_style", types=["TEXTGLYPH"])
    text.setFontFamily("monospace")
    text.setFontSize(_rel(12.0))
    text.setTextAnchor("middle")
    text.setVTextAnchor("middle")
    for kind in ARC_CLASSES:
        if arc_ids.get(kind):
            line = style(f"arc_{kind.replace(' ', '_')}_style", ids=arc_ids[kind])
            if kind != "consumption":
                line.setEndHead(_ending_id(kind))
    del diagram


def _border(box: Box, toward: tuple[float, float]) -> tuple[float, float]:
    """The point where the segment from a box's centre to `toward` leaves the box."""
    (cx, cy), (tx, ty) = box.centre, toward
    dx, dy = tx - cx, ty - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min(
        (box.width / 2) / abs(dx) if dx else float("inf"), (box.height / 2) / abs(dy) if dy else float("inf")
    )
    scale = min(scale, 1.0)
    return cx + dx * scale, cy + dy * scale


def _set_box(glyph: libsbml.GraphicalObject, box: Box) -> None:
    bb = glyph.getBoundingBox()
    bb.setX(round(box.x, 2))
    bb.setY(round(box.y, 2))
    bb.setWidth(round(box.width, 2))
    bb.setHeight(round(box.height, 2))


def _segment(curve: libsbml.Curve, start: tuple[float, float], end: tuple[float, float]) -> None:
    segment = curve.createLineSegment()
    segment.setStart(
        libsbml.Point(libsbml.LayoutPkgNamespaces(3, 2, 1), round(start[0], 2), round(start[1], 2))
    )
    segment.setEnd(libsbml.Point(libsbml.LayoutPkgNamespaces(3, 2, 1), round(end[0], 2), round(end[1], 2)))


def layout_document(doc: libsbml.SBMLDocument, diagram: Diagram) -> libsbml.SBMLDocument:
    """Return a copy of a model's document with its diagram as an SBML layout with an SBGN render style."""
    out: libsbml.SBMLDocument = doc.clone()
    for package, uri in (
        ("layout", libsbml.LayoutExtension.getXmlnsL3V1V1()),
        ("render", libsbml.RenderExtension.getXmlnsL3V1V1()),
    ):
        if out.enablePackage(uri, package, True) != libsbml.LIBSBML_OPERATION_SUCCESS:
            raise BcsignalError(f"cannot enable the SBML {package} package", tool="libsbml")
        out.setPackageRequired(package, False)
    model = out.getModel()
    layout = model.getPlugin("layout").createLayout()
    layout.setId(LAYOUT_ID)
    layout.setName("process diagram (bcsignal)")
    layout.getDimensions().setWidth(round(diagram.width, 2))
    layout.getDimensions().setHeight(round(diagram.height, 2))
    for sid, box in diagram.species.items():
        glyph = layout.createSpeciesGlyph()
        glyph.setId(glyph_id("sg", sid))
        glyph.setSpeciesId(sid)
        _set_box(glyph, box)
        text = layout.createTextGlyph()
        text.setId(glyph_id("tg", sid))
        text.setGraphicalObjectId(glyph.getId())
        text.setOriginOfTextId(sid)
        _set_box(text, box)
    for i, (title, box) in enumerate(diagram.bands):  # a band: a general glyph, titled by a text glyph
        band = layout.createGeneralGlyph()
        band.setId(f"band_{i + 1}")
        _set_box(band, box)
        text = layout.createTextGlyph()
        text.setId(f"tg_band_{i + 1}")
        text.setText(title)
        text.setGraphicalObjectId(band.getId())
        _set_box(text, Box(box.x, box.y, box.width, TITLE_HEIGHT))
    arc_ids: dict[str, list[str]] = {}
    count: dict[str, int] = {}
    for rid, box in diagram.reactions.items():
        glyph = layout.createReactionGlyph()
        glyph.setId(glyph_id("rg", rid))
        glyph.setReactionId(rid)
        _set_box(glyph, box)
        cx, cy = box.centre
        _segment(glyph.getCurve(), (cx - box.width / 2, cy), (cx + box.width / 2, cy))
    for arc in diagram.arcs:
        sbox, rbox = diagram.species[arc.species], diagram.reactions[arc.reaction]
        n = count[arc.reaction] = count.get(arc.reaction, 0) + 1
        ref = layout.getReactionGlyph(glyph_id("rg", arc.reaction)).createSpeciesReferenceGlyph()
        ref.setId(f"srg_{arc.reaction}_{n}")
        ref.setSpeciesGlyphId(glyph_id("sg", arc.species))
        if arc.reference:
            ref.setSpeciesReferenceId(arc.reference)
        ref.setRole(LAYOUT_ROLE[arc.kind])
        ref.setSBOTerm(CLASS_SBO[arc.kind])
        start = _border(sbox, rbox.centre)
        end = _border(rbox, sbox.centre)
        _segment(ref.getCurve(), *((end, start) if arc.kind == "production" else (start, end)))
        arc_ids.setdefault(arc.kind, []).append(ref.getId())
    _render(layout, diagram, arc_ids)
    return out


def read_layout(doc: libsbml.SBMLDocument) -> Diagram:
    """Read back the diagram of a layout document (what the report draws)."""
    model = doc.getModel()
    plugin = model.getPlugin("layout") if model is not None else None
    layout = plugin.getLayout(LAYOUT_ID) if plugin is not None else None
    if layout is None:
        raise BcsignalError(f"no layout {LAYOUT_ID!r} in the diagram", tool="libsbml")

    def box(glyph: libsbml.GraphicalObject) -> Box:
        bb = glyph.getBoundingBox()
        return Box(bb.getX(), bb.getY(), bb.getWidth(), bb.getHeight())

    dims = layout.getDimensions()
    diagram = Diagram(dims.getWidth(), dims.getHeight())
    by_glyph = {}
    for glyph in layout.getListOfSpeciesGlyphs():
        diagram.species[glyph.getSpeciesId()] = box(glyph)
        diagram.labels[glyph.getSpeciesId()] = glyph.getSpeciesId()
        by_glyph[glyph.getId()] = glyph.getSpeciesId()
    for text in layout.getListOfTextGlyphs():
        band = layout.getGeneralGlyph(text.getGraphicalObjectId()) if text.isSetText() else None
        if band is not None:
            diagram.bands.append((text.getText(), box(band)))
    for glyph in layout.getListOfReactionGlyphs():
        rid = glyph.getReactionId()
        diagram.reactions[rid] = box(glyph)
        for ref in glyph.getListOfSpeciesReferenceGlyphs():
            kind = SBO_CLASS.get(ref.getSBOTermID())
            if kind is None:
                raise BcsignalError(f"glyph {ref.getId()} has no SBGN arc class", tool="libsbml")
            segment = ref.getCurve().getCurveSegment(0)
            start = end = None
            if segment is not None:
                start = (segment.getStart().getXOffset(), segment.getStart().getYOffset())
                end = (segment.getEnd().getXOffset(), segment.getEnd().getYOffset())
            species = by_glyph.get(ref.getSpeciesGlyphId())
            if species is None:
                raise BcsignalError(f"glyph {ref.getId()} points to no species glyph", tool="libsbml")
            diagram.arcs.append(Arc(species, rid, kind, ref.getSpeciesReferenceId() or None, start, end))
    return diagram


def problems(doc: libsbml.SBMLDocument) -> list[str]:
    """Return what is wrong with a diagram document; an empty list means it is valid and complete.

    libsbml's consistency checks (layout and render included, strict units), a glyph for every species and
    reaction of the model, an SBGN arc class on every species-reference glyph that agrees with the
    modifier's SBO role, and no two node glyphs overlapping.
    Every libsbml warning counts, as in `bcsignal validate`.
    """
    from bcsignal.sbml.io import libsbml_issues

    # checked as written (libsbml's layout validators misjudge objects never serialised), in every
    # consistency category with strict units, as `bcsignal validate` checks the models themselves
    text = libsbml.writeSBMLToString(doc)
    found = [f"libsbml [{i.category}] {i.message}" for i in libsbml_issues(text, "the diagram")]
    doc = libsbml.readSBMLFromString(text)
    model = doc.getModel()
    plugin = model.getPlugin("layout") if model is not None else None
    if plugin is None or plugin.getLayout(LAYOUT_ID) is None:
        return [*found, f"no layout {LAYOUT_ID!r}"]
    try:
        drawn = read_layout(doc)
    except BcsignalError as exc:
        return [*found, str(exc)]
    found += [
        f"species {s.getId()} has no glyph"
        for s in model.getListOfSpecies()
        if s.getId() not in drawn.species
    ]
    found += [
        f"reaction {r.getId()} has no glyph"
        for r in model.getListOfReactions()
        if r.getId() not in drawn.reactions
    ]
    expected = sorted((a.species, a.reaction, a.kind) for a in arcs(model))
    if sorted((a.species, a.reaction, a.kind) for a in drawn.arcs) != expected:
        found.append(
            "the arcs' SBGN classes differ from the model's reactants, products and modifier SBO roles"
        )
    boxes = sorted(drawn.boxes().items(), key=lambda item: item[1].x)
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1 :]:
            if box_b.x >= box_a.x + box_a.width:
                break
            if box_a.overlaps(box_b):
                found.append(f"glyphs {a} and {b} overlap")
    return found
