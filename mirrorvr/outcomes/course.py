"""A simulated course of sessions, run by the session engine and catalogued live.

:func:`simulate_course` plans a course in the catalogue and runs its sessions one after the
other. Each session is a whole session of the course's protocol (``run_session`` builds it
with :func:`mirrorvr.cli.build_session`): its own rating blocks ask the instruments due at
its place in the course (their ``sessions``), the simulated patient answers them through
the blocks' forms as its pain trajectory says (:class:`mirrorvr.sim.rater.PainTrajectory`),
and the session writes itself into the catalogue while it runs. Nothing is imported or
answered afterwards; this only checks that each session landed where it should.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from mirrorvr.catalog import Catalog
from mirrorvr.errors import CatalogError

logger = logging.getLogger(__name__)

#: Runs the next session of the course: its 1-based number -> the session's folder.
RunSession = Callable[[int], Path]


def simulate_course(
    catalog: Catalog,
    pseudonym: str,
    n_sessions: int,
    run_session: RunSession,
    *,
    protocol: str,
    planned_sessions: int | None = None,
    course: str = "simulated-course",
    progress: Callable[[int, int, str], None] | None = None,
) -> list[int]:
    """Plan ``course`` of ``protocol`` for ``pseudonym`` (``planned_sessions``, default
    ``n_sessions``) and run ``n_sessions`` of it; returns their session ids.

    Raises
    ------
    CatalogError
        If a session is missing from the catalogue, is another patient's, did not complete,
        or is not at its place in the course.
    """
    planned = planned_sessions or n_sessions
    catalog.register_patient(pseudonym)
    catalog.plan_course(pseudonym, course, protocol, planned)
    ids = []
    for k in range(1, n_sessions + 1):
        if progress is not None:
            progress(k - 1, n_sessions, f"session {k}")
        folder = run_session(k)
        session_id = catalog.session_by_folder(folder)
        if session_id is None:
            raise CatalogError(f"session {k} of {pseudonym!r}'s course ({folder}) is not in "
                               "the catalogue")
        info = catalog.session(session_id)
        found = (info.pseudonym, info.course, info.course_position, info.status)
        if found != (pseudonym, course, k, "complete"):
            raise CatalogError(
                f"session {k} of {pseudonym!r}'s course ({folder}) was catalogued as "
                f"patient {found[0]!r}, course {found[1]!r}, position {found[2]!r}, status "
                f"{found[3]!r}")
        ids.append(session_id)
    if progress is not None:
        progress(n_sessions, n_sessions, "done")
    return ids
