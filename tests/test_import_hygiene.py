"""``import mirrorvr`` and its pure packages import no GL, window or device library."""

import subprocess
import sys

PURE = [
    "mirrorvr",
    "mirrorvr.config",
    "mirrorvr.clock",
    "mirrorvr.limb.poses",
    "mirrorvr.limb.mirror",
    "mirrorvr.emg.decoder",
    "mirrorvr.emg.simulator",
    "mirrorvr.stim.governor",
    "mirrorvr.stim.scheduler",
    "mirrorvr.session.plan",
    "mirrorvr.session.runner",
    "mirrorvr.session.blocks",
    "mirrorvr.session.protocol",
    "mirrorvr.sim.person",
    "mirrorvr.cli",
    "mirrorvr.render.scene",
    "mirrorvr.tracking.scripted",
    "mirrorvr.tracking.driver",
    "mirrorvr.tracking.lsl_pose",
    "mirrorvr.tracking.webcam",
    "mirrorvr.tracking.manual",
    "mirrorvr.tracking.replay",
    "mirrorvr.tracking.known_answer",
]
HEAVY = ["pygame", "OpenGL", "brainflow", "serial", "pysciencemode"]


def test_pure_modules_import_no_edge_library():
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in PURE)
        + f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_library_never_imports_the_device_twins():
    """The emulators are test twins outside the shipped package (``emulators/``): no module
    of ``mirrorvr`` imports them, and none is left inside the package."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent / "mirrorvr"
    offenders = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names
                          if n.split(".")[0] == "emulators" or n.endswith("_emulator")]
    assert offenders == []
    assert not [p.name for p in package.rglob("*emulator*.py")]
