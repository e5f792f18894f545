"""The deliver stage: uploads and Airflow's API (docs/architecture.md, "Deliver" and "Run")."""
