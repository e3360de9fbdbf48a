"""The simulated person's habits, in one place for every simulation (sessions, the offline
real-time tests, benchmarks)."""

#: A simulated person starts an attempt this long after its cue appears, s.
REACTION_S = 0.2
#: How hard a simulated person attempts a cued movement (fraction of its maximum).
ATTEMPT_LEVEL = 0.7
