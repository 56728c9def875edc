"""States, threshold ranges, perfdata and the Verdict shape every probe's judgement returns."""
