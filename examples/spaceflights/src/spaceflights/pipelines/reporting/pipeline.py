from kedro.pipeline import Pipeline, node

from .nodes import compare_models


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(compare_models,
                 ["active_modelling_pipeline.metrics", "candidate_modelling_pipeline.metrics", "params:ds"],
                 "model_comparison", name="compare_models_node", tags=["reporting"]),
        ]
    )
