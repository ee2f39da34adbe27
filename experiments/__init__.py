"""Checking hypotheses: verification and refinement (``worker``), paper claims (``claims``) and
measured results (``measurements``)."""
