"""The project image, below both the CLI and the action: the docker CLI driven through argument lists
(docker.py), the project's code run there away from secrets (isolated.py), and the pipeline graph
read inside it (graph_in_image.py)."""
