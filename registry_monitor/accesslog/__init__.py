"""nginx's access log: the registry's real traffic, read like `tail -F`.

formats.py   one line -> a Request (both log formats), or None for garbage
routes.py    a request path -> one of the registry API's routes
follow.py    the file followed across rotations, its offset kept in state_dir
tally.py     requests counted by route, method and code; durations histogram
window.py    the last N minutes of the file, read backwards (check_registry)
"""
