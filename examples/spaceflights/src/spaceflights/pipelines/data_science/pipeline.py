from kedro.pipeline import Pipeline, node

from .nodes import evaluate_model, split_data, train_model


def create_pipeline(**kwargs) -> Pipeline:
    template = Pipeline(
        [
            node(split_data, ["model_input_table", "params:model_options"],
                 ["X_train", "X_test", "y_train", "y_test"], name="split_data_node"),
            node(train_model, ["X_train", "y_train"], "regressor", name="train_model_node",
                 tags=["resources.huge_machines"]),
            node(evaluate_model, ["regressor", "X_test", "y_test"], "metrics", name="evaluate_model_node"),
        ]
    )
    return sum(
        Pipeline(template, inputs="model_input_table", namespace=namespace,
                 parameters={"params:model_options": f"params:{namespace}.model_options"})
        for namespace in ("active_modelling_pipeline", "candidate_modelling_pipeline")
    )
