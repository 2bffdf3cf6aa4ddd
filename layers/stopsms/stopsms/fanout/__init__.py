"""The campaign path: a request checked, deferred or fanned out into send jobs."""
