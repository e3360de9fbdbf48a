"""Block kinds: one class per kind, behind :class:`~mirrorvr.session.blocks.base.Block`."""

from __future__ import annotations

from mirrorvr.session.blocks.base import Block, BlockView
from mirrorvr.session.blocks.biofeedback import BiofeedbackBlock
from mirrorvr.session.blocks.calibration import CalibrationBlock
from mirrorvr.session.blocks.mirror import MirrorBlock
from mirrorvr.session.blocks.movement import GuidedBlock, ImageryBlock, PhantomBlock
from mirrorvr.session.blocks.realtime_tests import MotionTestBlock, TacTestBlock
from mirrorvr.session.blocks.screens import RatingBlock, RelaxationBlock, RestBlock

#: The class of every block kind of :data:`mirrorvr.session.protocol.BLOCK_SPECS`.
BLOCK_KINDS: dict[str, type[Block]] = {cls.kind: cls for cls in (
    RatingBlock, CalibrationBlock, PhantomBlock, MirrorBlock, GuidedBlock, ImageryBlock,
    MotionTestBlock, TacTestBlock, BiofeedbackBlock, RelaxationBlock, RestBlock)}

__all__ = ["BLOCK_KINDS", "Block", "BlockView"]
