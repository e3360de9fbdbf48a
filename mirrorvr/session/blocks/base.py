"""The one interface every block kind implements, and what a block shows on a frame.

The runner plays blocks in order and knows no kind in particular. It calls, for the current
block: ``enter`` once on the render thread; ``on_emg`` and ``step`` on the control thread;
``frame`` and ``handle_key`` on the render thread; ``done`` to know when to go on; then
``finish`` (which may hand heavy work, like training a decoder, to ``ctx.background``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from mirrorvr.emg.intent import Intent
from mirrorvr.emg.source import EmgChunk
from mirrorvr.limb.poses import target_pose
from mirrorvr.limb.skeleton import Pose
from mirrorvr.render.screens import BreathingView, GaugeView, QuestionView
from mirrorvr.session.context import SessionContext
from mirrorvr.session.plan import PlannedMovement
from mirrorvr.session.protocol import BlockPlan, Cue


@dataclass(frozen=True)
class BlockView:
    """What a block shows at one photon time.

    ``affected`` is the virtual limb's pose (smoothed by the runner's pose follower when
    ``smooth``); ``intact`` the intact limb's (None: at rest). The rest are the screen's
    parts (see :class:`~mirrorvr.render.scene.SceneState`).
    """

    affected: Pose
    cue_text: str = ""
    intact: Pose | None = None
    smooth: bool = True
    ghost: Pose | None = None
    question: QuestionView | None = None
    gauge: GaugeView | None = None
    breathing: BreathingView | None = None
    limb_tension: float | None = None


class Block:
    """One block of a protocol. Subclasses set ``kind`` and override what they need.

    Parameters
    ----------
    plan : BlockPlan
        The block's spec, name, length and cues (times from the block's start, s).
    ctx : SessionContext
    """

    kind: ClassVar[str] = ""
    #: where movements are planned from ("cue", "decoder", "mirror", ...): the plan's source
    source: ClassVar[str] = "cue"

    def __init__(self, plan: BlockPlan, ctx: SessionContext) -> None:
        self.plan = plan
        self.spec = plan.spec
        self.name = plan.name
        self.duration_s = plan.duration_s
        self.cues: tuple[Cue, ...] = plan.cues
        self.movements = plan.movements
        self.ctx = ctx
        self.start_s = 0.0

    # ------------------------------------------------------------------ lifecycle

    def enter(self, start_s: float) -> None:
        """The block starts at ``start_s`` (session clock, s)."""
        self.start_s = start_s

    def on_emg(self, chunk: EmgChunk, now_s: float) -> list[Intent]:
        """New EMG (control thread); returns the decoder's decisions, if it made any."""
        return []

    def step(self, now_s: float) -> None:
        """Every control period (control thread)."""

    def handle_key(self, key: str) -> None:
        """A key the patient pressed (render thread)."""

    def input_count(self) -> int | None:
        """How many input samples the block has taken in so far (any thread), when each
        frame shows the newest at once, so frames may start as one arrives
        (``render.frames_on_input``); None: frames are drawn continuously."""
        return None

    def done(self, now_s: float) -> bool:
        """Whether the block is over at ``now_s``."""
        return now_s >= self.start_s + self.duration_s

    def finish(self) -> None:
        """After the last frame: results into ``ctx.results[self.name]``."""

    # ------------------------------------------------------------------ screen

    def frame(self, photon_s: float) -> BlockView:
        """What to show at ``photon_s``: by default the plan's movement, and the cue."""
        movement, level = self.ctx.plan.target_at(photon_s)
        return BlockView(self.pose(movement, level), self.cue_text(photon_s))

    def pose(self, movement: str, level: float) -> Pose:
        """The affected limb performing ``movement`` at ``level``."""
        return target_pose(movement, level, self.ctx.affected, self.ctx.limb)

    def cue_at(self, t_s: float) -> Cue | None:
        """The cue up at session time ``t_s``, or None."""
        rel = t_s - self.start_s
        for cue in self.cues:
            if cue.start_s <= rel < cue.end_s:
                return cue
        return None

    def cue_text(self, t_s: float) -> str:
        """The instruction at ``t_s`` (override per kind)."""
        cue = self.cue_at(t_s)
        return self.ctx.texts.relax if cue is None else self.ctx.texts.movement(cue.movement)

    def capture_times(self, n: int) -> list[tuple[float, str]]:
        """Up to ``n`` moments worth a saved frame, in distinct movements: (session s, label)."""
        first_of_each = {}
        for cue in self.cues:
            if cue.movement != "rest":
                first_of_each.setdefault(cue.movement, cue)
        distinct = list(first_of_each.values())
        step = max(1, len(distinct) // max(n, 1))
        return [(self.start_s + c.start_s + self.capture_into_cue_s(c),
                 f"{self.name}: {c.movement}") for c in distinct[step // 2::step][:n]]

    def capture_into_cue_s(self, cue: Cue) -> float:
        """How far into a cue its frame is saved, s: a well-developed movement."""
        return 0.9 * (cue.end_s - cue.start_s)

    # ------------------------------------------------------------------ stimulation

    def onset(self, entry: PlannedMovement) -> None:
        """A movement onset was planned: stimulate with it if this block stimulates."""
        if self.spec.stimulation:
            self.ctx.stimulate(entry)
