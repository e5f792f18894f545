"""The shared vocabulary every stage speaks (docs/architecture.md, "Layout"): the DAG tags the tool writes and
trusts, Asset URIs, Kubernetes names, execution modes, and the two kinds of Jinja meant for Airflow. Nothing
here imports another module of the package."""
