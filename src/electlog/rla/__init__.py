"""Risk-limiting audit statistics: the public-seed sampler, assertions and risk.

* :mod:`electlog.rla.sampling`: Rivest's consistent sampler (also used by the election layer's
  public-seed samples, so it depends on the standard library only);
* :mod:`electlog.rla.risk`: Kaplan–Markov, ALPHA and BRAVO p-values and sample sizes in exact
  arithmetic;
* :mod:`electlog.rla.assertions`: linear assertions, assorters and the assertion set of a round.

Pure functions: nothing here reads a log, a clock or a random source.
"""

from __future__ import annotations

from . import sampling
from .sampling import Ticket, ballot_id, parse_ballot_id, sample, sampler

__all__ = ["Ticket", "ballot_id", "parse_ballot_id", "sample", "sampler", "sampling"]
