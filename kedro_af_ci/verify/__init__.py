"""Stage Verify (docs/architecture.md, "Verify"): the pre-flight, the DAG loaded in Airflow's DagBag by a
worker process (preflight.py, run as ``python -m kedro_af_ci.verify.preflight``)."""
