"""Hypothesis profiles: `default` for CI (fast and reproducible), `slow` for `make test-slow`.

The default profile is derandomized: a CI run draws the same examples every time, so a red
CI is a regression, not a rare draw. The slow profile draws fresh examples on every run (and
replays the failures kept in `.hypothesis/`): that is where new cases are found.
"""

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.data_too_large])
settings.register_profile("default", max_examples=200, derandomize=True, **_COMMON)
settings.register_profile("slow", max_examples=5000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
