"""Run the project with `python -m spaceflights`."""

from kedro.framework.cli.utils import find_run_command
from kedro.framework.project import configure_project


def main(*args, **kwargs):
    configure_project("spaceflights")
    run = find_run_command("spaceflights")
    return run(*args, **kwargs)


if __name__ == "__main__":
    main()
