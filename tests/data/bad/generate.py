"""Write the large members of the bad-input corpus (too big to commit) into a folder.

Usage: python tests/data/bad/generate.py OUTDIR

The small members live next to this script. Everything here is deterministic except the absolute
path inside xxe_absolute.xml, which points at the secret file written into OUTDIR.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The valid user model the SBML members are edited from.
DECAY = HERE.parent / "decay.xml"
#: Size of the random file (50 MiB), over the default 20 MiB limit.
RANDOM_BYTES = 50 * 1024 * 1024
#: Text of the secret file an external entity points at; it must never appear in any output.
SECRET = "BCSIGNAL-SECRET-7f3a9c: this text must never appear in any output\n"
_LAW = """<apply>
              <times/>
              <ci> cell </ci>
              <ci> k </ci>
              <ci> S </ci>
            </apply>"""


def deep_mathml(levels: int) -> str:
    """Return decay.xml with its rate law nested `levels` deep: S + 0 + 0 ..., one apply per level."""
    base = DECAY.read_text(encoding="utf-8")
    base = base.replace(base[base.index("<!--") : base.index("-->") + 3] + "\n", "")
    inner = "<apply><plus/>" * levels + "<ci> S </ci>" + "<cn> 0 </cn></apply>" * levels
    law = f"<apply><times/><ci> cell </ci><ci> k </ci>{inner}</apply>"
    decl, rest = base.replace(_LAW, law).split("\n", 1)
    return f"{decl}\n<!-- bad input: MathML nested {levels} levels deep -->\n{rest}"


def deep_parentheses(levels: int) -> str:
    """Return an Antimony model whose rate constant is nested in `levels` parentheses."""
    return (
        f"// bad input: parentheses nested {levels} levels deep\n"
        "model deep()\n  compartment cell = 1\n  species S in cell = 10\n"
        f"  k = {'(' * levels}0.1{')' * levels}\n  J: S -> ; k*S*cell\nend\n"
    )


def unary_minus(count: int) -> str:
    """Return an Antimony model whose rate constant carries `count` unary minus signs."""
    return (
        f"// bad input: {count} unary minus signs\n"
        "model signs()\n  compartment cell = 1\n  species S in cell = 10\n"
        f"  k = {'-' * count}0.1\n  J: S -> ; k*S*cell\nend\n"
    )


def many_species_sbml(count: int) -> str:
    """Return decay.xml with `count` extra species and no extra reaction (a 50k-species model is 7 MB)."""
    base = DECAY.read_text(encoding="utf-8")
    base = base.replace(
        base[base.index("<!--") : base.index("-->") + 3], f"<!-- bad input: {count} species -->"
    )
    extra = "".join(
        f'      <species id="X{i}" compartment="cell" initialConcentration="1" substanceUnits="mole" '
        'hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>\n'
        for i in range(count)
    )
    return base.replace("    </listOfSpecies>", extra + "    </listOfSpecies>")


def many_species_antimony(count: int) -> str:
    """Return an Antimony model with `count` species and one reaction."""
    species = "".join(f"  species X{i} in cell = 1\n" for i in range(count))
    return (
        f"// bad input: {count} species\nmodel many()\n  compartment cell = 1\n{species}"
        "  k = 0.1\n  J: X0 -> ; k*X0*cell\nend\n"
    )


def deep_yaml(levels: int) -> str:
    """Return a claims file whose model field is a list nested `levels` deep."""
    return f"# bad input: YAML nested {levels} levels deep\nformat: 1\nmodel: {'[' * levels}{']' * levels}\n"


def huge_yaml(size: int) -> str:
    """Return a claims-like YAML document of about `size` bytes (one long list of strings)."""
    line = '  - "padding padding padding padding padding padding padding padding"\n'
    return "# bad input: a 2 MiB YAML file\nformat: 1\npadding:\n" + line * (size // len(line) + 1)


def write(folder: Path) -> dict[str, Path]:
    """Write every generated member into `folder` and return name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, str | bytes] = {f"deep_1e{e}.xml": deep_mathml(10**e) for e in (3, 4, 5)}
    files["deep_parentheses_1e4.ant"] = deep_parentheses(10**4)
    files["random_50MiB.xml"] = random.Random(20261121).randbytes(RANDOM_BYTES)
    secret = folder / "secret.txt"
    files[secret.name] = SECRET
    files["xxe_absolute.xml"] = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<!DOCTYPE sbml [<!ENTITY secret SYSTEM "file://{secret}">]>\n'
        '<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">\n'
        '  <model id="xxe" name="&secret;"/>\n</sbml>\n'
    )
    files["unary_minus_5e4.ant"] = unary_minus(5 * 10**4)
    files["species_5e4.xml"] = many_species_sbml(5 * 10**4)
    files["species_5e4.ant"] = many_species_antimony(5 * 10**4)
    files["claims_deep.yaml"] = deep_yaml(10**4)
    files["claims_huge.yaml"] = huge_yaml(2 * 1024 * 1024)
    written = {}
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        written[name] = path
    link = folder / "claims_symlink.yaml"  # a claims path that is a symlink to a passwd-like file
    link.unlink(missing_ok=True)
    link.symlink_to(HERE / "claims_passwd.yaml")
    written[link.name] = link
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for path in write(Path(sys.argv[1])).values():
        print(path)
