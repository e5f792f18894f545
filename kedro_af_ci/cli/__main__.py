"""``python -m kedro_af_ci.cli``: the console script (the action image's entrypoint runs the CLI so)."""

from . import main

main()
