from kedro.pipeline import Pipeline, node

from .nodes import create_model_input_table, preprocess_companies, preprocess_shuttles


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(preprocess_companies, "companies", "preprocessed_companies",
                 name="preprocess_companies_node", tags=["preprocessing"]),
            node(preprocess_shuttles, "shuttles", "preprocessed_shuttles",
                 name="preprocess_shuttles_node", tags=["preprocessing"]),
            node(create_model_input_table, ["preprocessed_shuttles", "preprocessed_companies", "reviews"],
                 "model_input_table", name="create_model_input_table_node"),
        ]
    )
