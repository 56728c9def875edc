"""The one judgement both faces show: states, ranges and perfdata (the Monitoring Plugins
vocabulary), the Verdict shape, each probe's verdict (verdicts/), the failover readiness, and
judge()/overall() that check_registry, /api/status and the status page all go through."""
