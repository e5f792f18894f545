"""``python -m kedro_af_ci.action``: what the container's entrypoint runs when given no arguments."""

from .main import main

main()
