"""Server commands as the measuring scripts under scripts/ take them: 'LABEL=[VAR=VALUE...]
COMMAND [ARG...]', whose words may name fields such as `{port}`."""

import os


def parse_target(spec, release, **fields):
    """(label, argv, environment) of `spec`, its fields filled in; a relative COMMAND is
    looked up in `release` (the cargo target's release directory)."""
    label, command = spec.split("=", 1)
    words = command.format(**fields).split()
    env = dict(os.environ)
    while words and "=" in words[0] and "/" not in words[0].split("=", 1)[0]:
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    if not words:
        raise SystemExit(f"target {label!r} has no command")
    if not os.path.isabs(words[0]):
        words[0] = os.path.join(release, words[0])
    return label, words, env
