"""The sync guard: refuse a sync that would erase data, before rsync runs.

`check_registry sync-guard` (checks/sync_guard.py) is run by the sync unit as
ExecStartPre (the drop-in debian/ ships). measure.py gathers the facts,
decision.py judges them (judging/verdicts/sync_guard.py words the answer), record.py
keeps refusals and the operator's one-run exemption in state_dir for the
exporter. docs/sync-guard.md is the operator's side.
"""
