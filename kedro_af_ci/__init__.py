"""kedro-airflow-k8s-action: Kedro project → verified Airflow DAG → uploaded → run."""

__version__ = "0.1.0"
